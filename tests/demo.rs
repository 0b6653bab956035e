//! `make demo` must keep telling the right story.

mod common;

#[test]
fn the_demo_tells_its_story() {
    let story = common::demo::run();
    print!("{}", story.text);
    assert_eq!(story.statuses, ["NOHISTORY", "ROUTED", "BUSY"], "{}", story.text);
    assert_eq!(story.agents, ["PJSIP/102", "PJSIP/102", "PJSIP/101"], "{}", story.text);
    assert_eq!(story.greetings, [true, false, true], "only the routed callback skips the greeting\n{}", story.text);
}
