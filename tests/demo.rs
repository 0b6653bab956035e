//! `make demo` must keep working: run its story and check what it tells.

mod common;

#[test]
fn the_demo_tells_its_story() {
    let story = common::demo::run();
    assert!(story.contains("with res_sticky, history in embedded SQLite"), "{story}");
    assert!(story.contains("res_sticky status"), "{story}");
    assert!(story.contains("sticky show status"), "{story}");
}
