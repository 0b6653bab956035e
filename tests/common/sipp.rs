//! sipp (Debian's sip-tester) in the test root: UAS processes as agents'
//! phones, a UAC as the client calling in through the trunk.

use std::fs;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::asterisk::{free_port, Asterisk};
use super::root::{manifest_dir, root};
use super::wait_for;

/// Copies the scenario into the instance so sipp in the root can read it.
fn scenario(asterisk: &Asterisk, name: &str) -> String {
    let dir = asterisk.dir.join("sip");
    fs::create_dir_all(&dir).expect("sip dir");
    fs::copy(manifest_dir().join("tests/sip").join(name), dir.join(name)).expect("copy scenario");
    format!("{}/sip/{name}", asterisk.dir_inside)
}

/// An agent's phone answering on `port` until dropped.
pub struct Agent {
    pub port: u16,
    child: Child,
}

impl Agent {
    pub fn start(asterisk: &Asterisk, port: u16) -> Agent {
        let file = scenario(asterisk, "agent.xml");
        let log = fs::File::create(asterisk.dir.join(format!("log/sipp-agent-{port}.out"))).expect("sipp log");
        let child = Command::new("chroot")
            .arg(&root().path)
            .args(["sipp", "-sf", &file, "-i", "127.0.0.1", "-p", &port.to_string(), "-nostdin", "-trace_err"])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting sipp");
        // sipp is ready once its port is taken.
        let bound =
            wait_for(Duration::from_secs(5), || std::net::UdpSocket::bind(("127.0.0.1", port)).is_err().then_some(()));
        assert!(bound.is_some(), "sipp did not bind {port}");
        Agent { port, child }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SIP test configuration (tests/asterisk/sip) with agents 101 and 102
/// at `ports`, and `sticky` as sticky.conf.
pub fn sip_options(ports: (u16, u16), sticky: &str) -> super::Options {
    let dir = manifest_dir().join("tests/asterisk/sip");
    let read = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
    let pjsip = read("pjsip.conf")
        .replace("@AGENT101_PORT@", &ports.0.to_string())
        .replace("@AGENT102_PORT@", &ports.1.to_string());
    super::Options::sticky(sticky)
        .file("pjsip.conf", &pjsip)
        .file("extensions.conf", &read("extensions.conf"))
        .file("queues.conf", &read("queues.conf"))
}

/// Ports for agents 101 and 102, to fill @AGENT101_PORT@ / @AGENT102_PORT@.
pub fn agent_ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// The client `number` calls `service` at the instance, talks `talk` once
/// answered, and hangs up. Returns sipp's exit (0: the call succeeded).
pub fn client_call(asterisk: &Asterisk, number: &str, service: &str, talk: Duration) -> Output {
    let file = scenario(asterisk, "client.xml");
    Command::new("chroot")
        .arg(&root().path)
        .args([
            "sipp",
            "-sf",
            &file,
            "-set",
            "client",
            number,
            "-s",
            service,
            "-d",
            &talk.as_millis().to_string(),
            "-i",
            "127.0.0.1",
            "-p",
            &free_port().to_string(),
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "60s",
            &format!("127.0.0.1:{}", asterisk.sip_port),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("running sipp")
}
