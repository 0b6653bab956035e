//! `make demo`: a real Asterisk 22 with res_sticky in the test root, calls
//! over real SIP. The story itself lives in tests/common/demo.rs, which
//! tests/demo.rs also runs, so the demo is checked by `make test`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let story = common::demo::run();
    print!("{}", story.text);
}
