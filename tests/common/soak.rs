//! The soak (`make soak`, and a short run in `make test`): real SIP calls at
//! a steady rate through STICKY_ROUTE → Dial or Queue with agents answering,
//! SCHEDULE_NOTICE and MOBILE_AGENT in the mix, while a driver reloads the
//! module, flushes the cache, and stops, kills, slows and exhausts
//! PostgreSQL. Everything stays on loopback and in the test root.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::fs;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::asterisk::free_port;
use super::db::{Kind, Server};
use super::root::{manifest_dir, root};
use super::{base64, field, wait_for, Asterisk, Options};

/// Agents 101…110, all answered by one sipp process.
const AGENTS: u32 = 10;
/// New calls per second.
const RATE: u32 = 4;
/// Returning clients: numbers drawn from this many.
const CLIENTS: u32 = 300;

/// What the soak saw.
#[derive(Debug, Default)]
pub struct Figures {
    pub minutes: f64,
    pub calls_placed: u64,
    pub calls_answered: u64,
    pub calls_failed: u64,
    pub statuses: BTreeMap<String, u64>,
    /// The longest STICKY_ROUTE held a call, in ms.
    pub max_wait_ms: i64,
    /// The five longest STICKY_ROUTE holds, with their decision.
    pub longest: Vec<String>,
    /// Log lines of autoservice starting or stopping slowly (over 100 ms).
    pub slow_autoservice: usize,
    pub query_timeout_ms: i64,
    pub learned: u64,
    pub rows: u64,
    pub notices: u64,
    pub mobile: u64,
    pub reloads: u64,
    pub faults: Vec<String>,
    /// (RSS kB, threads, file descriptors) at the start, the middle and the end.
    pub samples: Vec<(u64, u64, u64)>,
    pub crashed: bool,
    pub text: String,
}

fn sticky(server: &Server) -> String {
    format!(
        "[general]
dsn = {}
query_timeout = 250ms
state_template = PJSIP/${{AGENT}}
dial_template = PJSIP/${{AGENT}}
sync_interval = 1s

[notice]
notice_dial = Local/${{NUMBER}}@notice-client
retries = 0
wait_time = 10
max_per_hour = 100000

[mobile]
member_template = Local/${{NUMBER}}@mobile-phone/n
allow = 79112223344
max_failures = 100
lockout = 10s
",
        server.dsn_for_conf()
    )
}

fn pjsip(agent_port: u16) -> String {
    let mut text = fs::read_to_string(manifest_dir().join("tests/asterisk/sip/pjsip.conf")).unwrap();
    let start = text.find("[101](agent-template)").expect("agents in pjsip.conf");
    text.truncate(start);
    for agent in 101..101 + AGENTS {
        let _ = write!(
            text,
            "[{agent}](agent-template)\naors = {agent}\n[{agent}]\ntype = aor\ncontact = sip:{agent}@127.0.0.1:{agent_port}\n\n"
        );
    }
    text
}

fn extensions() -> String {
    fs::read_to_string(manifest_dir().join("tests/asterisk/soak/extensions.conf")).unwrap()
}

fn queues() -> String {
    let mut text = String::from(
        "[general]\npersistentmembers = no\n\n[support]\nstrategy = rrmemory\ntimeout = 8\nretry = 1\nringinuse = no\n",
    );
    for agent in 101..101 + AGENTS {
        let _ = writeln!(text, "member => PJSIP/{agent}");
    }
    text.push_str("\n[mobile]\nstrategy = ringall\ntimeout = 5\n");
    text
}

/// (RSS kB, threads, file descriptors) of a process.
fn usage(pid: u32) -> (u64, u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let value = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).map(|d| d.count() as u64).unwrap_or(0);
    (value("VmRSS:"), value("Threads:"), fds)
}

/// sipp as the agents' phones: answers every call until killed.
fn agents(asterisk: &Asterisk, port: u16) -> Child {
    let dir = asterisk.dir.join("sip");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(manifest_dir().join("tests/sip/agent.xml"), dir.join("agent.xml")).unwrap();
    let log = fs::File::create(asterisk.dir.join("log/sipp-agents.out")).unwrap();
    let child = Command::new("chroot")
        .arg(&root().path)
        .args(["sipp", "-sf", &format!("{}/sip/agent.xml", asterisk.dir_inside), "-i", "127.0.0.1"])
        .args(["-p", &port.to_string(), "-nostdin", "-max_socket", "2000"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("sipp agents");
    let bound =
        wait_for(Duration::from_secs(5), || std::net::UdpSocket::bind(("127.0.0.1", port)).is_err().then_some(()));
    assert!(bound.is_some(), "the agents' sipp did not start");
    child
}

/// sipp as the clients: `RATE` calls a second for `calls` calls, numbers
/// from an injection file, talking 3 s each.
fn clients(asterisk: &Asterisk, calls: u64) -> Child {
    let dir = asterisk.dir.join("sip");
    fs::copy(manifest_dir().join("tests/sip/client-soak.xml"), dir.join("client-soak.xml")).unwrap();
    let mut numbers = String::from("RANDOM\n");
    for i in 0..CLIENTS {
        // Mixed formats, as trunks deliver them.
        let digits = format!("912{:07}", 1_000_000 + i);
        let _ = writeln!(
            numbers,
            "{}",
            match i % 3 {
                0 => format!("+7{digits}"),
                1 => format!("8{digits}"),
                _ => digits,
            }
        );
    }
    fs::write(dir.join("clients.csv"), numbers).unwrap();
    let inside = format!("{}/sip", asterisk.dir_inside);
    let log = fs::File::create(asterisk.dir.join("log/sipp-clients.out")).unwrap();
    Command::new("chroot")
        .arg(&root().path)
        .args(["sipp", "-sf", &format!("{inside}/client-soak.xml"), "-inf", &format!("{inside}/clients.csv")])
        .args(["-s", "100", "-r", &RATE.to_string(), "-m", &calls.to_string(), "-l", "200", "-d", "3000"])
        .args(["-i", "127.0.0.1", "-p", &free_port().to_string(), "-nostdin", "-timeout", "3600s"])
        .args(["-recv_timeout", "40000", "-trace_stat", "-stf", &format!("{inside}/clients.stat")])
        .arg(format!("127.0.0.1:{}", asterisk.sip_port))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("sipp clients")
}

/// The last value of a column of sipp's statistics file.
fn sipp_stat(asterisk: &Asterisk, column: &str) -> u64 {
    let text = fs::read_to_string(asterisk.dir.join("sip/clients.stat")).unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(';').collect();
    let Some(index) = header.iter().position(|name| *name == column) else {
        return 0;
    };
    lines.last().and_then(|line| line.split(';').nth(index)?.parse().ok()).unwrap_or(0)
}

/// Runs the soak for `minutes`; returns what it saw.
pub fn run(minutes: f64) -> Figures {
    let started = Instant::now();
    let mut figures = Figures { minutes, query_timeout_ms: 250, ..Figures::default() };
    let mut server = Server::start(Kind::Postgres, "soak");
    let agent_port = free_port();
    let options = Options::sticky(&sticky(&server))
        .file("pjsip.conf", &pjsip(agent_port))
        .file("extensions.conf", &extensions())
        .file("queues.conf", &queues());
    let mut asterisk = Asterisk::start("soak", options);
    let loaded = asterisk.cli("sticky show status");
    assert!(loaded.starts_with("res_sticky status"), "the module did not load:\n{}", asterisk.tail_of_log(20));
    asterisk.cli("core set verbose 0");
    let mut agent_phones = agents(&asterisk, agent_port);
    let ami = asterisk.ami_user_events();
    let pid = asterisk.pid().expect("Asterisk runs");
    let total_calls = (minutes * 60.0 * RATE as f64) as u64;
    let mut callers = clients(&asterisk, total_calls);
    // Let the first calls settle before the first sample.
    std::thread::sleep(Duration::from_secs(5));
    figures.samples.push(usage(pid));
    let running = AtomicBool::new(true);
    let end = started + Duration::from_secs_f64(minutes * 60.0);
    std::thread::scope(|scope| {
        // The mix: a notice and a mobile login or logout every 10 s.
        let mix = scope.spawn(|| {
            let mut round = 0u64;
            while running.load(Ordering::SeqCst) && Instant::now() < end {
                let index = round.to_string();
                ami.originate(
                    "Local/s@soak-hold",
                    "soak-notice",
                    "s",
                    "<101>",
                    &[("INDEX", &index), ("ARGS", &base64(b"79161234567,+3s,hello-world,q"))],
                );
                let number = if round.is_multiple_of(2) { "79112223344" } else { "79990001122" };
                ami.originate("Local/s@soak-hold", "soak-mobile", "s", &format!("<{number}>"), &[("INDEX", &index)]);
                round += 1;
                sleep_until(&running, Instant::now() + Duration::from_secs(10));
            }
            round
        });
        // The faults, on a one-minute cycle.
        let faults = scope.spawn(|| {
            let mut log = Vec::new();
            let mut reloads = 0;
            let mut tick = 0u64;
            while running.load(Ordering::SeqCst) && Instant::now() < end {
                let second = tick % 60;
                if tick.is_multiple_of(5) {
                    // Every other reload changes query_timeout (applied at
                    // once) and sync_interval (which restarts the workers).
                    let (timeout, sync) =
                        if (tick / 5).is_multiple_of(2) { ("250ms", "1s") } else { ("300ms", "2s") };
                    asterisk.write_config(
                        "sticky.conf",
                        &sticky(&server)
                            .replace("query_timeout = 250ms", &format!("query_timeout = {timeout}"))
                            .replace("sync_interval = 1s", &format!("sync_interval = {sync}")),
                    );
                    asterisk.cli("module reload res_sticky.so");
                    reloads += 1;
                }
                if tick % 15 == 7 {
                    asterisk.cli("sticky cache flush");
                }
                match second {
                    10 => {
                        log.push(format!("{tick}s: PostgreSQL stopped for 10 s"));
                        server.stop();
                    }
                    20 | 50 => server.run(),
                    30 => {
                        log.push(format!("{tick}s: sticky_history locked for 8 s (every statement on it waits)"));
                        let _ = Command::new("chroot")
                            .arg(&root().path)
                            .args(["psql", "-h", &server.host, "-p", &server.port.to_string(), "-U", "sticky"])
                            .args(["-d", "postgres", "-c"])
                            .arg("BEGIN; LOCK TABLE sticky_history IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;")
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .spawn();
                    }
                    40 => {
                        log.push(format!("{tick}s: every PostgreSQL connection taken for 6 s"));
                        for _ in 0..60 {
                            let _ = Command::new("chroot")
                                .arg(&root().path)
                                .args(["psql", "-h", &server.host, "-p", &server.port.to_string(), "-U", "sticky"])
                                .args(["-d", "postgres", "-c", "SELECT pg_sleep(6)"])
                                .stdout(Stdio::null())
                                .stderr(Stdio::null())
                                .spawn();
                        }
                    }
                    45 => {
                        log.push(format!("{tick}s: PostgreSQL killed (kill -9), back after 5 s"));
                        server.kill();
                    }
                    _ => {}
                }
                tick += 1;
                sleep_until(&running, started + Duration::from_secs(5 + tick));
            }
            (log, reloads)
        });
        let sampler = scope.spawn(|| {
            let mut samples = Vec::new();
            while running.load(Ordering::SeqCst) && Instant::now() < end {
                sleep_until(&running, Instant::now() + Duration::from_secs(30));
                samples.push(usage(pid));
            }
            samples
        });
        sleep_until(&running, end);
        running.store(false, Ordering::SeqCst);
        figures.notices = mix.join().unwrap();
        figures.mobile = figures.notices;
        let (log, reloads) = faults.join().unwrap();
        figures.faults = log;
        figures.reloads = reloads;
        let middle = sampler.join().unwrap();
        if let Some(sample) = middle.get(middle.len() / 2) {
            figures.samples.push(*sample);
        }
    });
    // The database back for good; calls still running end.
    if server.sql_try("SELECT 1").is_err() {
        server.run();
    }
    let _ = wait_for(Duration::from_secs(60), || callers.try_wait().ok().flatten());
    let _ = callers.kill();
    let _ = callers.wait();
    figures.crashed = !asterisk.is_running();
    if !figures.crashed {
        let written = wait_for(Duration::from_secs(60), || {
            field(&asterisk.cli("sticky show status"), "Writes pending").starts_with("0 ").then_some(())
        });
        assert!(written.is_some(), "contacts not written:\n{}", asterisk.cli("sticky show status"));
        // sipp was killed: calls it left half-open would count their own
        // threads. End them, so that the last sample shows what stays.
        asterisk.cli("channel request hangup all");
        let idle = wait_for(Duration::from_secs(30), || {
            let count = asterisk.cli("core show channels count");
            count.lines().any(|line| line.trim() == "0 active channels").then_some(())
        });
        assert!(idle.is_some(), "calls still up:\n{}", asterisk.cli("core show channels"));
        figures.samples.push(usage(pid));
        // The calls just hung up post their records a little later: count
        // learned against stored once nothing is pending and the count of
        // learned contacts stood still around the count of rows. A real
        // loss stays a difference after the minute.
        let learned = |status: &str| field(status, "Contacts learned").parse::<u64>().unwrap_or(0);
        let mut last = (0, 0, String::new());
        let settled = wait_for(Duration::from_secs(60), || {
            let before = asterisk.cli("sticky show status");
            if !field(&before, "Writes pending").starts_with("0 ") {
                return None;
            }
            let rows = server.sql("SELECT count(*) FROM sticky_history").trim().parse().unwrap_or(0);
            let after = asterisk.cli("sticky show status");
            last = (learned(&after), rows, after);
            (learned(&before) == last.0 && last.0 == rows).then_some(())
        });
        if settled.is_none() && last.2.is_empty() {
            panic!("contacts not written:\n{}", asterisk.cli("sticky show status"));
        }
        (figures.learned, figures.rows, figures.text) = last;
    } else {
        figures.rows = server.sql("SELECT count(*) FROM sticky_history").trim().parse().unwrap_or(0);
    }
    figures.calls_placed = sipp_stat(&asterisk, "TotalCallCreated");
    figures.calls_answered = sipp_stat(&asterisk, "SuccessfulCall(C)");
    figures.calls_failed = sipp_stat(&asterisk, "FailedCall(C)");
    let mut waits = Vec::new();
    for event in ami.all(|m| m.is_user_event("StickyRoute")) {
        let status = event.get("Status").unwrap_or("?").to_string();
        let waited: i64 = event.get("Elapsed").and_then(|e| e.parse().ok()).unwrap_or(0);
        waits.push((waited, status.clone()));
        *figures.statuses.entry(status).or_default() += 1;
    }
    waits.sort_unstable_by(|a, b| b.cmp(a));
    figures.max_wait_ms = waits.first().map_or(0, |(ms, _)| *ms);
    figures.longest = waits.into_iter().take(5).map(|(ms, status)| format!("{ms} ms {status}")).collect();
    figures.slow_autoservice = asterisk.log().matches("autoservice on").count();
    let _ = agent_phones.kill();
    let _ = agent_phones.wait();
    figures
}

fn sleep_until(running: &AtomicBool, until: Instant) {
    while running.load(Ordering::SeqCst) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100).min(until.saturating_duration_since(Instant::now())));
    }
}

impl Figures {
    /// The figures as the soak prints them.
    pub fn report(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "res_sticky soak: {:.1} min, {RATE} calls/s, {AGENTS} agents, PostgreSQL", self.minutes);
        let _ = writeln!(
            out,
            "  calls: {} placed, {} answered, {} failed",
            self.calls_placed, self.calls_answered, self.calls_failed
        );
        let statuses: Vec<String> = self.statuses.iter().map(|(status, n)| format!("{status} {n}")).collect();
        let _ = writeln!(out, "  STICKY_ROUTE decisions: {}", statuses.join(", "));
        let _ = writeln!(
            out,
            "  longest STICKY_ROUTE wait: {} ms (query_timeout {} ms); the five longest: {}; slow autoservice \
             starts/stops logged: {}",
            self.max_wait_ms,
            self.query_timeout_ms,
            self.longest.join(", "),
            self.slow_autoservice
        );
        let _ = writeln!(
            out,
            "  contacts learned {}, rows in sticky_history {} (difference {})",
            self.learned,
            self.rows,
            self.learned as i64 - self.rows as i64
        );
        let _ = writeln!(
            out,
            "  notices scheduled {}, mobile logins/outs {}, reloads {}",
            self.notices, self.mobile, self.reloads
        );
        for (label, (rss, threads, fds)) in ["start", "middle", "end"].iter().zip(&self.samples) {
            let _ = writeln!(out, "  {label:<6}: RSS {rss} kB, {threads} threads, {fds} file descriptors");
        }
        let _ = writeln!(out, "  Asterisk crashed: {}", if self.crashed { "YES" } else { "no (0 crashes)" });
        let _ = writeln!(out, "  faults injected: {}", self.faults.len());
        for fault in self.faults.iter().take(8) {
            let _ = writeln!(out, "    {fault}");
        }
        out
    }
}
