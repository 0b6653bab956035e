//! `make bench`: res_sticky against func_odbc at call-centre scale, in one
//! run, same Asterisk, same databases, same data (BENCHMARKS.md has the
//! figures and what they mean).
//!
//! For each size in BENCH_SIZES (default 10k,100k,1M) a generated FreePBX
//! `cdr` table is loaded into each store in BENCH_STORES (default
//! sqlite,postgres,mariadb), imported into `sticky_history` with `sticky
//! import cdr`, and every lookup is timed one by one in the dialplan:
//! (a) the widely copied func_odbc "last manager" query as published, (b) func_odbc on an indexed,
//! normalised column, (c) LAST_AGENT cold, (d) LAST_AGENT warm,
//! (e) STICKY_ROUTE warm, (f) the `${LEN()}` floor. At the largest size up to
//! 1M: 20 and 100 channels at once, and the resident memory per cached
//! number; then the live writer on PostgreSQL under a burst of CDRs.
//! BENCH_QUICK=1 makes every sample count small (the smoke run of `make
//! bench-smoke`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "bench/data.rs"]
mod data;
#[path = "bench/plot.rs"]
mod plot;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use common::ami::Ami;
use common::db::{Kind, Server};
use common::root::{manifest_dir, root, TESTS_DIR};
use common::{field, wait_for, Asterisk, Options};

/// The stores the benchmark runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Store {
    Sqlite,
    Postgres,
    MariaDb,
}

impl Store {
    fn name(self) -> &'static str {
        match self {
            Store::Sqlite => "SQLite",
            Store::Postgres => "PostgreSQL",
            Store::MariaDb => "MariaDB",
        }
    }
}

/// What the environment asked for.
struct Settings {
    sizes: Vec<u64>,
    stores: Vec<Store>,
    quick: bool,
    plot: PathBuf,
    report: PathBuf,
}

fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, factor) = match text.chars().last()? {
        'k' => (&text[..text.len() - 1], 1_000),
        'm' => (&text[..text.len() - 1], 1_000_000),
        _ => (text.as_str(), 1),
    };
    digits.parse::<u64>().ok().map(|n| n * factor).filter(|&n| n >= 100)
}

impl Settings {
    fn from_env() -> Settings {
        let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
        let sizes_text = match std::env::var("BENCH_SIZES") {
            Ok(text) if !text.trim().is_empty() => text,
            _ if quick => "2k".into(),
            _ => "10k,100k,1M".into(),
        };
        let mut sizes: Vec<u64> = sizes_text
            .split(',')
            .map(|s| {
                parse_size(s)
                    .unwrap_or_else(|| panic!("BENCH_SIZES: '{s}' is not a size like 10k or 1M (at least 100)"))
            })
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let stores_text = match std::env::var("BENCH_STORES") {
            Ok(text) if !text.trim().is_empty() => text,
            _ => "sqlite,postgres,mariadb".into(),
        };
        let stores = stores_text
            .split(',')
            .map(|s| match s.trim().to_ascii_lowercase().as_str() {
                "sqlite" => Store::Sqlite,
                "postgres" | "postgresql" | "pg" => Store::Postgres,
                "mariadb" | "mysql" => Store::MariaDb,
                other => panic!("BENCH_STORES: no store '{other}' (sqlite, postgres, mariadb)"),
            })
            .collect();
        let default_plot = if quick { "target/bench-growth-smoke.png" } else { "doc/bench-growth.png" };
        let plot = manifest_dir().join(std::env::var("BENCH_PLOT").unwrap_or_else(|_| default_plot.into()));
        let report = manifest_dir().join(if quick { "target/bench-report-smoke.md" } else { "target/bench-report.md" });
        Settings { sizes, stores, quick, plot, report }
    }

    /// `full` samples, or a twentieth (at least 10) for a quick run.
    fn samples(&self, full: u64) -> u64 {
        if self.quick {
            (full / 20).max(10)
        } else {
            full
        }
    }
}

/// Runs a shell script in the root, with no time limit; panics on failure.
fn in_root(script: &str) -> String {
    let output = Command::new("chroot")
        .arg(&root().path)
        .args(["sh", "-ec", script])
        .output()
        .unwrap_or_else(|e| panic!("chroot sh: {e}"));
    assert!(
        output.status.success(),
        "in the root: {script}\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One timed loop's results.
#[derive(Default, Clone)]
struct Timing {
    /// Microseconds per lookup, sorted.
    samples: Vec<f64>,
    hits: u64,
    /// Wall time from the first channel's start to the last one's end.
    wall: Duration,
    last: String,
}

impl Timing {
    fn pct(&self, p: f64) -> f64 {
        if self.samples.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.samples.len() as f64).ceil() as usize;
        self.samples[rank.clamp(1, self.samples.len()) - 1]
    }

    fn p50(&self) -> f64 {
        self.pct(50.0)
    }

    fn p99(&self) -> f64 {
        self.pct(99.0)
    }

    fn mean(&self) -> f64 {
        self.samples.iter().sum::<f64>() / self.samples.len().max(1) as f64
    }

    fn per_second(&self) -> f64 {
        self.samples.len() as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    fn hit_rate(&self) -> f64 {
        100.0 * self.hits as f64 / self.samples.len().max(1) as f64
    }
}

fn us(value: f64) -> String {
    if value.is_nan() {
        "-".into()
    } else if value >= 10_000.0 {
        format!("{:.1} ms", value / 1000.0)
    } else if value >= 1000.0 {
        format!("{:.2} ms", value / 1000.0)
    } else {
        format!("{value:.0} µs")
    }
}

/// One Asterisk with res_sticky on one store, and its AMI.
struct Instance {
    asterisk: Asterisk,
    ami: Ami,
    runs: u32,
    /// Asterisk's HTTP server, with res_prometheus's `/metrics`.
    http_port: u16,
}

/// How a loop looks its numbers up (see tests/asterisk/bench/extensions.conf).
#[derive(Clone, Copy)]
struct Loop<'a> {
    call: &'a str,
    /// Iterations per channel.
    n: u64,
    channels: u64,
    /// The first client; channel k starts at `off + k·n·stride`.
    off: u64,
    stride: u64,
    /// Every other number absent from every table.
    mix: bool,
}

impl Instance {
    fn run(&mut self, spec: Loop) -> Timing {
        self.runs += 1;
        let case = format!("r{}", self.runs);
        self.ami.clear();
        for chan in 0..spec.channels {
            self.ami.originate(
                "Local/s@hold",
                "bench",
                "run",
                "<100>",
                &[
                    ("N", &spec.n.to_string()),
                    ("OFF", &(spec.off + chan * spec.n * spec.stride).to_string()),
                    ("STRIDE", &spec.stride.to_string()),
                    ("MIX", if spec.mix { "1" } else { "0" }),
                    ("CALL", spec.call),
                    ("CASE", &case),
                    ("CHAN", &chan.to_string()),
                ],
            );
        }
        let done = |m: &common::ami::Message| m.is_user_event("BenchDone") && m.get("Case") == Some(case.as_str());
        let finished = self.ami.wait_nth(spec.channels as usize, Duration::from_secs(7200), done);
        assert_eq!(finished.len() as u64, spec.channels, "every benchmark channel finished ({})", spec.call);
        let mut timing = Timing::default();
        let (mut first, mut last) = (i64::MAX, 0i64);
        for event in &finished {
            timing.hits += event.get("Hits").unwrap_or("0").parse::<u64>().unwrap_or(0);
            first = first.min(event.get("W0").unwrap().parse().unwrap());
            last = last.max(event.get("W1").unwrap().parse().unwrap());
            timing.last = event.get("Last").unwrap_or_default().to_string();
        }
        let batches = self.ami.all(|m| {
            (m.is_user_event("BenchSamples") || m.is_user_event("BenchDone")) && m.get("Case") == Some(case.as_str())
        });
        for batch in batches {
            for sample in batch.get("S").unwrap_or_default().split('/').filter(|s| !s.is_empty()) {
                timing.samples.push(sample.parse().unwrap_or_else(|_| panic!("sample '{sample}'")));
            }
        }
        assert_eq!(timing.samples.len() as u64, spec.n * spec.channels, "every sample of {} arrived", spec.call);
        timing.samples.sort_by(f64::total_cmp);
        timing.wall = Duration::from_micros((last - first).max(1) as u64);
        self.ami.clear();
        timing
    }

    /// `channels` channels, each `per_channel` iterations of 100 calls of
    /// `function` on numbers 8<K><00…99> (K = first + channel·per_channel +
    /// iteration): the calls and the wall time from the first start to the
    /// last end. Waits for Asterisk to settle afterwards.
    fn fill(&mut self, function: &str, first: u64, per_channel: u64, channels: u64) -> (u64, Duration) {
        self.runs += 1;
        let case = format!("m{}", self.runs);
        // Four variables of 25 calls: an AMI line holds at most 1 kB.
        let body = |part: u64| -> String {
            (part * 25..part * 25 + 25).map(|j| format!("${{{function}(8${{K}}{j:02})}}")).collect()
        };
        let bodies: Vec<String> = (0..4).map(body).collect();
        for chan in 0..channels {
            self.ami.originate(
                "Local/s@hold",
                "bench-fill",
                "run",
                "<100>",
                &[
                    ("N", &per_channel.to_string()),
                    ("OFF", &(first + chan * per_channel).to_string()),
                    ("B1", &bodies[0]),
                    ("B2", &bodies[1]),
                    ("B3", &bodies[2]),
                    ("B4", &bodies[3]),
                    ("CASE", &case),
                    ("CHAN", &chan.to_string()),
                ],
            );
        }
        let done = |m: &common::ami::Message| m.is_user_event("BenchFilled") && m.get("Case") == Some(case.as_str());
        let finished = self.ami.wait_nth(channels as usize, Duration::from_secs(7200), done);
        assert_eq!(finished.len() as u64, channels, "every fill channel finished");
        let first_start = finished.iter().filter_map(|m| m.get("W0")?.parse::<i64>().ok()).min().unwrap_or(0);
        let last_end = finished.iter().filter_map(|m| m.get("W1")?.parse::<i64>().ok()).max().unwrap_or(0);
        self.ami.clear();
        self.settle();
        (per_channel * channels * 100, Duration::from_micros((last_end - first_start).max(1) as u64))
    }

    fn status(&self) -> String {
        self.asterisk.cli("sticky show status")
    }

    /// `times` scrapes of `/metrics` over HTTP: res_sticky's series, and
    /// the p50 and the worst of one whole scrape (ms).
    fn scrapes(&self, times: usize) -> (usize, f64, f64) {
        let mut took = Vec::new();
        let mut series = 0;
        for _ in 0..times {
            let started = Instant::now();
            let text = ureq::get(&format!("http://127.0.0.1:{}/metrics", self.http_port))
                .call()
                .expect("GET /metrics")
                .into_string()
                .expect("text");
            took.push(started.elapsed().as_secs_f64() * 1e3);
            series = text.lines().filter(|line| line.starts_with("asterisk_sticky_")).count();
        }
        took.sort_by(f64::total_cmp);
        (series, took[took.len() / 2], took[took.len() - 1])
    }

    fn rss_kb(&self) -> u64 {
        let pid = self.asterisk.pid().expect("Asterisk runs");
        let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
        field(&status, "VmRSS").trim_end_matches("kB").trim().parse().expect("VmRSS")
    }

    /// Numbers in the cache, from `sticky show status`.
    fn cached(&self) -> u64 {
        field(&self.status(), "Cache").split_whitespace().next().unwrap_or("0").parse().unwrap_or(0)
    }

    /// Waits until Asterisk's task processors have worked off their queues
    /// (a loop at full speed leaves stasis messages queued behind it);
    /// the longest queue seen first.
    fn settle(&self) -> String {
        let mut first = None;
        wait_for(Duration::from_secs(120), || {
            let text = self.asterisk.cli("core show taskprocessors");
            // Processor, Processed, In Queue, Max Depth, Low water, High water
            let mut queued: Vec<(u64, String)> = text
                .lines()
                .filter_map(|line| {
                    let words: Vec<&str> = line.split_whitespace().collect();
                    (words.len() >= 6).then(|| Some((words[2].parse::<u64>().ok()?, words[0].to_string())))?
                })
                .collect();
            queued.sort();
            let total: u64 = queued.iter().map(|q| q.0).sum();
            first.get_or_insert_with(|| format!("{total} queued, longest {:?}", queued.last()));
            (total < 50).then_some(())
        });
        first.unwrap_or_default()
    }

    fn flush(&self) {
        self.asterisk.cli("sticky cache flush");
    }
}

/// The databases of one run: servers and where the data files go.
struct World {
    pg: Option<Server>,
    my: Option<Server>,
    /// The data directory, inside the root and on the host.
    dir_inside: String,
    dir: PathBuf,
}

impl World {
    fn server(&self, store: Store) -> Option<&Server> {
        match store {
            Store::Sqlite => None,
            Store::Postgres => self.pg.as_ref(),
            Store::MariaDb => self.my.as_ref(),
        }
    }

    fn csv(&self, rows: u64) -> (String, PathBuf) {
        (format!("{}/cdr-{rows}.csv", self.dir_inside), self.dir.join(format!("cdr-{rows}.csv")))
    }

    fn sqlite_cdr(&self, rows: u64) -> String {
        format!("{}/cdr-{rows}.sqlite3", self.dir_inside)
    }

    /// SQL on a store's server, or on the SQLite cdr file of `rows`.
    fn sql(&self, store: Store, rows: u64, sql: &str) -> String {
        match self.server(store) {
            Some(server) => in_root(&server_command(server, sql)),
            None => in_root(&format!("sqlite3 {} \"{}\"", self.sqlite_cdr(rows), sql.replace('"', "\\\""))),
        }
    }
}

fn server_command(server: &Server, sql: &str) -> String {
    let quoted = sql.replace('\'', "'\\''");
    match server.kind {
        Kind::Postgres => format!(
            "psql -v ON_ERROR_STOP=1 -h {} -p {} -U sticky -d postgres -At -c '{quoted}'",
            server.host, server.port
        ),
        Kind::MariaDb => format!(
            "mariadb --local-infile=1 -h {} -P {} -uroot --batch --skip-column-names sticky -e '{quoted}'",
            server.host, server.port
        ),
    }
}

/// The cdr table of a store: FreePBX's columns the benchmark fills, and
/// `num10`, the normalised number of case (b).
fn create_cdr(store: Store) -> String {
    let time = if store == Store::Postgres { "timestamp" } else { "datetime" };
    format!(
        "CREATE TABLE cdr (calldate {time} NOT NULL, clid varchar(80) NOT NULL DEFAULT '', src varchar(80) NOT NULL DEFAULT '', \
         dst varchar(80) NOT NULL DEFAULT '', dcontext varchar(80) NOT NULL DEFAULT '', channel varchar(80) NOT NULL DEFAULT '', \
         dstchannel varchar(80) NOT NULL DEFAULT '', lastapp varchar(80) NOT NULL DEFAULT '', lastdata varchar(80) NOT NULL DEFAULT '', \
         duration integer NOT NULL DEFAULT 0, billsec integer NOT NULL DEFAULT 0, disposition varchar(45) NOT NULL DEFAULT '', \
         amaflags integer NOT NULL DEFAULT 0, accountcode varchar(20) NOT NULL DEFAULT '', uniqueid varchar(32) NOT NULL DEFAULT '', \
         userfield varchar(255) NOT NULL DEFAULT '', num10 varchar(16))"
    )
}

/// FreePBX's own indexes on cdr, and the one case (b) needs.
const CDR_INDEXES: &str = "CREATE INDEX cdr_calldate ON cdr (calldate); CREATE INDEX cdr_dst ON cdr (dst); \
                           CREATE INDEX cdr_accountcode ON cdr (accountcode); CREATE INDEX cdr_uniqueid ON cdr (uniqueid); \
                           CREATE INDEX cdr_num10 ON cdr (num10, calldate);";

/// Loads the CSV of `rows` into the store's cdr table (empty history first).
fn load(world: &World, store: Store, rows: u64) -> Duration {
    let (csv, _) = world.csv(rows);
    let started = Instant::now();
    match store {
        Store::Sqlite => {
            let file = world.sqlite_cdr(rows);
            let _ = fs::remove_file(root().host_path(&file));
            in_root(&format!(
                "sqlite3 {file} \"{}\" \".mode csv\" \".import {csv} cdr\" \"{} ANALYZE;\"",
                create_cdr(store),
                CDR_INDEXES
            ));
            in_root(&format!("sqlite3 {file} \"UPDATE cdr SET num10 = NULL WHERE num10 = '';\""));
        }
        Store::Postgres => {
            world.sql(store, rows, "DROP TABLE IF EXISTS cdr, sticky_history, sticky_schema, sticky_forget");
            world.sql(store, rows, &create_cdr(store));
            world.sql(
                store,
                rows,
                &format!(
                    "COPY cdr ({}) FROM '{csv}' WITH (FORMAT csv, FORCE_NOT_NULL (clid, src, dst, dcontext, channel, \
                 dstchannel, lastapp, lastdata, accountcode, uniqueid, userfield))",
                    data::COLUMNS
                ),
            );
            world.sql(store, rows, &format!("{CDR_INDEXES} ANALYZE cdr"));
        }
        Store::MariaDb => {
            world.sql(store, rows, "DROP TABLE IF EXISTS cdr, sticky_history, sticky_schema, sticky_forget");
            world.sql(store, rows, &format!("{} ENGINE=InnoDB", create_cdr(store)));
            let columns = data::COLUMNS.replace("num10", "@num10");
            world.sql(
                store,
                rows,
                &format!(
                    "LOAD DATA LOCAL INFILE '{csv}' INTO TABLE cdr FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' \
                     ESCAPED BY '' LINES TERMINATED BY '\\n' ({columns}) SET num10 = NULLIF(@num10, '')"
                ),
            );
            let indexes = CDR_INDEXES.replace("CREATE INDEX", "ALTER TABLE cdr ADD INDEX").replace(" ON cdr ", " ");
            world.sql(store, rows, &format!("{indexes} ANALYZE TABLE cdr"));
        }
    }
    started.elapsed()
}

/// The func_odbc functions of cases (a) and (b) in a store's dialect.
fn func_odbc(store: Store) -> String {
    let (day_ago, days_ago) = match store {
        Store::Postgres => ("now() - interval '1 day' AND now()", "now() - interval '91 days'"),
        Store::MariaDb => ("NOW() - INTERVAL 1 DAY AND NOW()", "NOW() - INTERVAL 91 DAY"),
        Store::Sqlite => ("datetime('now', '-1 day') AND datetime('now')", "datetime('now', '-91 days')"),
    };
    format!(
        "; (a) the last-manager query as published (in this database's dialect)\n\
         [LASTMGR]\ndsn = bench\nreadsql = SELECT src FROM cdr WHERE dst LIKE '%${{SQL_ESC(${{ARG1}})}}' \
         AND calldate BETWEEN {day_ago} AND disposition IN ('ANSWERED','NO ANSWER','BUSY') ORDER BY calldate DESC LIMIT 1\n\n\
         ; (b) an exact match on an indexed, normalised column (num10, calldate)\n\
         [NORM]\ndsn = bench\nreadsql = SELECT CASE WHEN dcontext = 'from-internal' THEN channel ELSE dstchannel END FROM cdr \
         WHERE num10 = '${{SQL_ESC(${{ARG1}})}}' AND calldate > {days_ago} AND (disposition = 'ANSWERED' \
         OR (dcontext = 'from-internal' AND disposition IN ('NO ANSWER','BUSY'))) ORDER BY calldate DESC LIMIT 1\n"
    )
}

fn odbc_ini(world: &World, store: Store, rows: u64) -> String {
    match world.server(store) {
        Some(server) if store == Store::Postgres => format!(
            "[bench]\nDriver = PostgreSQL Unicode\nServername = {}\nPort = {}\nDatabase = postgres\nUsername = sticky\n",
            server.host, server.port
        ),
        Some(server) => format!(
            "[bench]\nDriver = MariaDB Unicode\nServer = {}\nPort = {}\nDatabase = sticky\nUser = root\n",
            server.host, server.port
        ),
        None => format!("[bench]\nDriver = SQLite3\nDatabase = {}\n", world.sqlite_cdr(rows)),
    }
}

fn start(world: &World, store: Store, rows: u64, name: &str) -> Instance {
    let import_dsn = match world.server(store) {
        Some(_) => String::new(),
        None => format!("import_dsn = Driver=SQLite3\\;Database={}\n", world.sqlite_cdr(rows)),
    };
    let dsn = world.server(store).map(|s| format!("dsn = {}\n", s.dsn_for_conf())).unwrap_or_default();
    let sticky = format!(
        "[general]\n{dsn}{import_dsn}window = 91d\ncache_size = 1100000\npool_size = 4\nquery_timeout = 1s\n\
         state_template = PJSIP/${{AGENT}}\ndial_template = PJSIP/${{AGENT}}\n"
    );
    let res_odbc = "[bench]\nenabled => yes\ndsn => bench\npre-connect => yes\nmax_connections => 20\n";
    let http_port = common::asterisk::free_port();
    let modules = fs::read_to_string(manifest_dir().join("tests/asterisk/modules.conf")).unwrap();
    let mut options = Options::sticky(&sticky)
        .file("modules.conf", &format!("{modules}load = res_prometheus.so\n"))
        .file("http.conf", &format!("[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = {http_port}\n"))
        .file("prometheus.conf", "[general]\nenabled = yes\nuri = metrics\n")
        .file(
            "extensions.conf",
            &fs::read_to_string(manifest_dir().join("tests/asterisk/bench/extensions.conf")).unwrap(),
        )
        .file("res_odbc.conf", res_odbc)
        .file("func_odbc.conf", &func_odbc(store))
        .file("odbc.ini", &odbc_ini(world, store, rows))
        .file("logger.conf", "[logfiles]\nfull => notice,warning,error\n")
        .file("pjsip.conf", PJSIP)
        .file("manager.conf", MANAGER);
    options.env.push(("ODBCINI".into(), "@DIR@/etc/odbc.ini".into()));
    let asterisk = Asterisk::start(name, options);
    // Logging every dialplan step would be most of what is measured.
    asterisk.cli("core set verbose 0");
    let ami = asterisk.ami_user_events();
    Instance { asterisk, ami, runs: 0, http_port }
}

/// The test AMI user, without the two events every dialplan step raises:
/// the loop would queue tens of kB of them per iteration, kept for
/// `httptimeout` seconds, and that would be most of the memory measured.
const MANAGER: &str = "[general]\nenabled = yes\nport = @AMI_PORT@\nbindaddr = 127.0.0.1\n\
                       disabledevents = Newexten,VarSet\nhttptimeout = 5\n\n\
                       [test]\nsecret = test\nread = all\nwrite = all\n";

/// A trunk: every request from 127.0.0.1 (sipp) into `bench-sip`.
const PJSIP: &str = "[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:@SIP_PORT@\n\n\
                     [trunk]\ntype = endpoint\ncontext = bench-sip\ndisallow = all\nallow = ulaw\ndirect_media = no\n\
                     rtp_symmetric = yes\nmedia_address = 127.0.0.1\nbind_rtp_to_media_address = yes\n\n[trunk]\ntype = identify\nendpoint = trunk\nmatch = 127.0.0.1\n";

/// Asterisk's CPU time so far (user + system), in seconds.
fn cpu_seconds(instance: &Instance) -> f64 {
    let pid = instance.asterisk.pid().expect("Asterisk runs");
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    let after = stat.rsplit_once(')').expect("stat").1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // utime and stime are the 14th and 15th fields (the 12th and 13th after the name).
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // In USER_HZ, 100 on Linux (what `getconf CLK_TCK` says).
    ticks / 100.0
}

/// sipp at `rate` calls/s into `service` (100: STICKY_ROUTE, 200: without),
/// client numbers half in the table, half not: the INVITE → 200 OK times.
fn sipp(instance: &Instance, service: &str, rate: u64, calls: u64, clients: u64) -> (Timing, f64) {
    let dir_inside = format!("{}/sipp-{service}", instance.asterisk.dir_inside);
    let dir = instance.asterisk.dir.join(format!("sipp-{service}"));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("sipp dir");
    fs::copy(manifest_dir().join("tests/sip/bench-pdd.xml"), dir.join("pdd.xml")).expect("scenario");
    let mut numbers = String::from("SEQUENTIAL\n");
    let stride = (clients / calls.max(1)).max(1);
    for i in 0..calls {
        let key = data::key_of(i * stride) + if i % 2 == 1 { 18 } else { 0 };
        let _ = writeln!(numbers, "{}{key};", if i % 4 < 2 { "+7" } else { "8" });
    }
    fs::write(dir.join("numbers.csv"), numbers).expect("numbers");
    let cpu = cpu_seconds(instance);
    let port = common::asterisk::free_port();
    in_root(&format!(
        "cd {dir_inside} && sipp -sf pdd.xml -inf numbers.csv -s {service} -r {rate} -m {calls} -d 1000 -i 127.0.0.1 \
         -p {port} -nostdin -trace_rtt -rtt_freq 1 -timeout 300s -recv_timeout 20000 127.0.0.1:{} > sipp.out 2>&1 || true",
        instance.asterisk.sip_port
    ));
    let cpu = cpu_seconds(instance) - cpu;
    let mut timing = Timing::default();
    for entry in fs::read_dir(&dir).expect("sipp dir").filter_map(Result::ok) {
        if entry.file_name().to_string_lossy().ends_with("_rtt.csv") {
            for line in fs::read_to_string(entry.path()).unwrap().lines().skip(1) {
                // date_ms;response_time_ms;rtd_no
                if let Some(ms) = line.split(';').nth(1).and_then(|v| v.trim().parse::<f64>().ok()) {
                    timing.samples.push(ms * 1000.0);
                }
            }
        }
    }
    timing.samples.sort_by(f64::total_cmp);
    (timing, cpu / calls as f64)
}

fn sip(settings: &Settings, results: &mut Results, instance: &Instance, store: Store, clients: u64) {
    let rate = if settings.quick { 10 } else { 30 };
    let calls = if settings.quick { 20 } else { 1200 };
    // Warm-up: the first calls set up what PJSIP caches.
    sipp(instance, "200", rate, calls.min(50), clients);
    for (service, label) in [("200", "without STICKY_ROUTE"), ("100", "with STICKY_ROUTE")] {
        instance.flush();
        let (timing, cpu) = sipp(instance, service, rate, calls, clients);
        say(
            results,
            &format!(
                "    sipp {rate} cps, {} of {calls} calls answered {label:<22} post-dial delay p50 {:>8}  p99 {:>8}  mean {:>8}; Asterisk CPU {:.2} ms per call",
                timing.samples.len(),
                us(timing.p50()),
                us(timing.p99()),
                us(timing.mean()),
                cpu * 1000.0
            ),
        );
        results.sip.insert((store, service), (rate, timing, cpu));
    }
}

/// `sticky import cdr` through the CLI, with no time limit: (rows read,
/// contacts written, seconds, CLI text).
fn import(instance: &Instance) -> (u64, u64, f64, String) {
    let config = format!("{}/etc/asterisk.conf", instance.asterisk.dir_inside);
    let started = Instant::now();
    let text = in_root(&format!("/usr/sbin/asterisk -C {config} -rx 'sticky import cdr 91'"));
    let seconds = started.elapsed().as_secs_f64();
    let summary = text.lines().rev().find(|l| l.contains("sticky import cdr")).unwrap_or_default().to_string();
    assert!(summary.contains("contacts imported"), "the import finished: {text}");
    let number_before = |word: &str| -> u64 {
        let words: Vec<&str> = summary.split_whitespace().collect();
        let at = words.iter().position(|w| *w == word).unwrap_or_else(|| panic!("'{word}' in {summary}"));
        words[at - 1].parse().unwrap_or_else(|_| panic!("a number before '{word}' in {summary}"))
    };
    (number_before("rows"), number_before("contacts"), seconds, summary)
}

fn stored_contacts(world: &World, instance: &Instance, store: Store, rows: u64) -> u64 {
    let text = match store {
        Store::Sqlite => common::db::sqlite(&instance.asterisk, "SELECT count(*) FROM sticky_history"),
        _ => world.sql(store, rows, "SELECT count(*) FROM sticky_history"),
    };
    text.trim().parse().unwrap_or_else(|_| panic!("count: {text}"))
}

/// The per-lookup cases, in the order of the issue.
const CASES: [(&str, &str, &str); 6] = [
    ("a", "func_odbc, last-manager query as published", "${ODBC_LASTMGR(${NUM:-10})}"),
    ("b", "func_odbc, indexed normalised column", "${ODBC_NORM(${NUM:-10})}"),
    ("c", "LAST_AGENT cold", "${LAST_AGENT(${NUM})}"),
    ("d", "LAST_AGENT warm", "${LAST_AGENT(${NUM})}"),
    // STICKY_AGENT too, so that "found" counts numbers with a sticky agent
    // (no agent is reachable here: the route itself is always empty).
    ("e", "STICKY_ROUTE warm", "${STICKY_ROUTE(${NUM})}${STICKY_AGENT}"),
    ("f", "${LEN()} floor", "${LEN(${NUM})}"),
];

/// Loading cdr and importing it: load seconds, rows read, contacts
/// written, import seconds, contacts stored, contacts expected.
type Import = (f64, u64, u64, f64, u64, u64);

/// Everything measured, for the report and the plot.
#[derive(Default)]
struct Results {
    /// (store, rows, case) → timing, one channel.
    single: BTreeMap<(Store, u64, &'static str), Timing>,
    /// (store, rows, case, channels) → timing.
    concurrent: BTreeMap<(Store, u64, &'static str, u64), Timing>,
    /// (store, rows) → the load and the import.
    imports: BTreeMap<(Store, u64), Import>,
    generated: BTreeMap<u64, (data::Summary, f64)>,
    memory: Option<MemoryFigures>,
    /// (store, rows, channels) → calls/s (cold, warm, floor), 100 per iteration.
    throughput: BTreeMap<(Store, u64, u64), (f64, f64, f64)>,
    /// (store, service) → (cps, post-dial delay, CPU seconds per call).
    sip: BTreeMap<(Store, &'static str), (u64, Timing, f64)>,
    writer: Option<WriterFigures>,
    /// (store, rows) → the module's own clock of the cold reads' steps.
    steps: BTreeMap<(Store, u64), String>,
    text: String,
}

struct MemoryFigures {
    store: Store,
    /// RSS growth (kB) of the same loop around ${LEN()}, and its calls.
    control: (u64, u64),
    /// RSS in kB with nothing cached, with the first half, with all.
    rss0: u64,
    rss1: u64,
    cached1: u64,
    rss2: u64,
    cached2: u64,
    seconds: f64,
}

impl MemoryFigures {
    fn describe(&self) -> String {
        let per = |kb: u64, numbers: u64| (kb * 1024) as f64 / numbers.max(1) as f64;
        format!(
            "memory ({}): {} numbers cached by cold lookups in {:.0} s; RSS {} kB empty, {} kB with {}, {} kB with {}: \
             {:.0} bytes per cached number in all, {:.0} bytes per number for the second half \
             (the same loop around ${{LEN()}}: {:.0} bytes per call)",
            self.store.name(),
            self.cached2,
            self.seconds,
            self.rss0,
            self.rss1,
            self.cached1,
            self.rss2,
            self.cached2,
            per(self.rss2.saturating_sub(self.rss0), self.cached2),
            per(self.rss2.saturating_sub(self.rss1), self.cached2.saturating_sub(self.cached1)),
            per(self.control.0, self.control.1)
        )
    }
}

struct WriterFigures {
    cdrs: u64,
    issue_seconds: f64,
    learned: u64,
    learn_seconds: f64,
    stored: u64,
    drain_seconds: f64,
    max_pending: u64,
    dropped: String,
}

fn say(results: &mut Results, line: &str) {
    println!("{line}");
    results.text.push_str(line);
    results.text.push('\n');
}

fn lookups(settings: &Settings, results: &mut Results, instance: &mut Instance, store: Store, rows: u64, clients: u64) {
    let a_samples = settings.samples((20_000_000 / rows).clamp(100, 1000));
    let n = |case: &str| match case {
        "a" => a_samples,
        "f" => settings.samples(5000),
        _ => settings.samples(2000),
    };
    // Cold then warm over the same numbers: half of them clients in the
    // table, spread over all of them, half numbers in no table.
    let cold = n("c");
    let stride = (clients / cold).max(1);
    // Warm up connections and the loop itself.
    for (_, _, call) in CASES {
        instance.run(Loop { call, n: 4, channels: 1, off: clients / 2, stride: 1, mix: true });
    }
    for (case, label, call) in CASES {
        let samples = n(case);
        let (off, stride) =
            if case == "f" || case == "a" || case == "b" { (0, (clients / samples).max(1)) } else { (0, stride) };
        if case == "c" {
            instance.flush();
        }
        let timing = instance.run(Loop { call, n: samples, channels: 1, off, stride, mix: true });
        say(
            results,
            &format!(
                "    ({case}) {label:<40} p50 {:>9}  p99 {:>9}  mean {:>9}  {:>5.1}% found  ({} lookups)",
                us(timing.p50()),
                us(timing.p99()),
                us(timing.mean()),
                timing.hit_rate(),
                timing.samples.len()
            ),
        );
        results.single.insert((store, rows, case), timing);
        if case == "c" {
            // Where a cold lookup's time goes, as the module clocks it.
            let status = instance.status();
            let steps = format!(
                "store read {}; {}; under autoservice {}",
                field(&status, "Store reads"),
                field(&status, "Read steps p50/p99"),
                field(&status, "Under autoservice")
            );
            say(results, &format!("        cold read steps: {steps}"));
            results.steps.insert((store, rows), steps);
        }
    }
}

fn concurrency(
    settings: &Settings,
    results: &mut Results,
    instance: &mut Instance,
    store: Store,
    rows: u64,
    clients: u64,
) {
    // Throughput: 100 calls per dialplan iteration, so that the loop's own
    // steps weigh little; numbers with no history, cold (cache flushed),
    // then warm (the same numbers again), and the floor.
    for channels in [20u64, 100] {
        let per_channel = (settings.samples(200_000) / 100 / channels).max(1);
        let base = 92_000_000;
        instance.flush();
        let (cold, cold_wall) = instance.fill("LAST_AGENT", base, per_channel, channels);
        let (warm, warm_wall) = instance.fill("LAST_AGENT", base, per_channel, channels);
        let (floor, floor_wall) = instance.fill("LEN", base, per_channel, channels);
        let rate = |calls: u64, wall: Duration| calls as f64 / wall.as_secs_f64();
        let figures = (rate(cold, cold_wall), rate(warm, warm_wall), rate(floor, floor_wall));
        say(
            results,
            &format!(
                "    {channels:>3} channels, 100 calls per iteration: LAST_AGENT cold {:.0}/s, warm {:.0}/s, ${{LEN()}} {:.0}/s ({cold} calls each)",
                figures.0, figures.1, figures.2
            ),
        );
        results.throughput.insert((store, rows, channels), figures);
    }
    for channels in [20u64, 100] {
        let warm_n = settings.samples(40_000) / channels;
        let cold_n = (settings.samples(4_000) / channels).max(2);
        let a_n = (settings.samples(if rows > 1_000_000 { 200 } else { 400 }) / channels).max(2);
        let cold_stride = (clients / (cold_n * channels)).max(1);
        // Cold: the cache flushed, each channel its own numbers.
        instance.flush();
        let cold = instance.run(Loop { call: CASES[2].2, n: cold_n, channels, off: 0, stride: cold_stride, mix: true });
        // Warm: the same numbers again.
        let warm_stride = (clients / (warm_n * channels)).max(1);
        let warm = instance.run(Loop { call: CASES[3].2, n: warm_n, channels, off: 0, stride: warm_stride, mix: true });
        let odbc = instance.run(Loop {
            call: CASES[0].2,
            n: a_n,
            channels,
            off: 0,
            stride: (clients / (a_n * channels)).max(1),
            mix: true,
        });
        for (case, label, timing) in [
            ("c", "LAST_AGENT cold", cold),
            ("d", "LAST_AGENT warm", warm),
            ("a", "func_odbc last-manager query", odbc),
        ] {
            say(
                results,
                &format!(
                    "    {channels:>3} channels, ({case}) {label:<20} {:>9.0} lookups/s  p50 {:>9}  p99 {:>9}  {:>5.1}% found  ({} lookups)",
                    timing.per_second(),
                    us(timing.p50()),
                    us(timing.p99()),
                    timing.hit_rate(),
                    timing.samples.len()
                ),
            );
            results.concurrent.insert((store, rows, case, channels), timing);
        }
    }
}

/// Resident memory per cached number, on a fresh Asterisk: 20 channels
/// fill the cache with `numbers` distinct numbers with no history (cold
/// lookups; a number with one contact takes the same room, its contact is
/// kept inline), 100 lookups per dialplan iteration, in two halves. First
/// the same loop around `${LEN()}` shows what the loop alone makes Asterisk
/// keep; the second half's growth is the cost per number without the
/// cache's fixed part.
fn memory(results: &mut Results, world: &World, store: Store, rows: u64, numbers: u64) {
    let mut instance = start(world, store, rows, "bench-memory");
    let channels = 20;
    let per_channel = (numbers / 100 / channels / 2).max(1);
    // Keys 91000000xx and up: above every client of the generated tables.
    let base = 91_000_000;
    let control0 = instance.rss_kb();
    instance.fill("LEN", base, per_channel, channels);
    let control1 = instance.rss_kb();
    let started = Instant::now();
    let rss0 = instance.rss_kb();
    instance.fill("LAST_AGENT", base, per_channel, channels);
    let (rss1, cached1) = (instance.rss_kb(), instance.cached());
    instance.fill("LAST_AGENT", base + per_channel * channels, per_channel, channels);
    let (rss2, cached2) = (instance.rss_kb(), instance.cached());
    let seconds = started.elapsed().as_secs_f64();
    let (series, p50, worst) = instance.scrapes(20);
    let inside = field(&instance.status(), "Metrics");
    say(
        results,
        &format!(
            "    /metrics with {cached2} numbers cached: {series} series of res_sticky's, one whole scrape over HTTP \
             p50 {p50:.2} ms, worst {worst:.2} ms of 20 (res_sticky's part: {inside})"
        ),
    );
    let figures = MemoryFigures {
        store,
        control: (control1.saturating_sub(control0), per_channel * channels * 100),
        rss0,
        rss1,
        cached1,
        rss2,
        cached2,
        seconds,
    };
    say(results, &format!("    {}", figures.describe()));
    results.memory = Some(figures);
}

fn status_number(status: &str, label: &str) -> u64 {
    field(status, label).split_whitespace().next().unwrap_or("0").parse().unwrap_or(0)
}

/// The live writer on PostgreSQL: a burst of `cdrs` calls, each a CDR that
/// links a client and an agent, posted as fast as Asterisk runs them.
fn writer(settings: &Settings, results: &mut Results, world: &World) {
    let Some(server) = world.pg.as_ref() else { return };
    let cdrs = settings.samples(10_000).max(200);
    // A fresh history: the module makes its tables again.
    world.sql(Store::Postgres, 0, "DROP TABLE IF EXISTS sticky_history, sticky_schema, sticky_forget");
    let stored_now = || {
        let output = Command::new("chroot")
            .arg(&root().path)
            .args(["sh", "-c", &server_command(server, "SELECT count(*) FROM sticky_history")])
            .output();
        output.ok().and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().ok()).unwrap_or(0)
    };
    let dialplan = "[general]\nstatic = yes\nwriteprotect = yes\n\n\
        [burst-client]\n\
        exten => _X.,1,Set(CALLERID(num)=+7${EXTEN})\n same => n,Dial(Local/$[2000 + ${EXTEN} % 200]@burst-agent)\n same => n,Hangup()\n\n\
        [burst-agent]\n\
        exten => _X.,1,Answer()\n same => n,Hangup()\n";
    let sticky = format!("[general]\ndsn = {}\nwindow = 91d\ncache_size = 1100000\n", server.dsn_for_conf());
    let asterisk = Asterisk::start(
        "bench-writer",
        Options::sticky(&sticky)
            .file("extensions.conf", dialplan)
            .file("logger.conf", "[logfiles]\nfull => notice,warning,error\n"),
    );
    asterisk.cli("core set verbose 0");
    // No events: ten thousand calls' worth would only fill the inbox.
    let ami = Ami::connect_for(asterisk.ami_port, "off");
    let learned_before = status_number(&asterisk.cli("sticky show status"), "Contacts learned");
    let started = Instant::now();
    for i in 0..cdrs {
        let key = data::key_of(5_000_000 + i);
        let reply = ami.action(
            "Originate",
            &[
                ("Channel", &format!("Local/{key}@burst-client")),
                ("Application", "Wait"),
                ("Data", "0"),
                ("Async", "true"),
                ("Timeout", "30000"),
            ],
        );
        assert_eq!(reply.get("Response"), Some("Success"), "originate: {reply:?}");
        // At most ~300 calls at once: ten thousand started together run
        // Asterisk out of file descriptors, and calls that never start
        // post no CDR.
        if i % 100 == 99 {
            wait_for(Duration::from_secs(120), || {
                let status = asterisk.try_cli("sticky show status")?;
                let learned = status_number(&status, "Contacts learned").saturating_sub(learned_before);
                (i < learned + 300).then_some(())
            });
        }
    }
    let issue_seconds = started.elapsed().as_secs_f64();
    let mut max_pending = 0;
    let mut learned_at = None;
    let mut last_status = String::new();
    let done = wait_for(Duration::from_secs(if settings.quick { 60 } else { 600 }), || {
        // Asterisk busy with the burst may not answer the CLI in time.
        let status = asterisk.try_cli("sticky show status")?;
        max_pending = max_pending.max(status_number(&status, "Writes pending"));
        let learned = status_number(&status, "Contacts learned") - learned_before;
        if learned >= cdrs && learned_at.is_none() {
            learned_at = Some(started.elapsed().as_secs_f64());
        }
        last_status = status;
        let stored = stored_now();
        (stored >= cdrs && learned_at.is_some()).then_some(stored)
    });
    let drain_seconds = started.elapsed().as_secs_f64();
    let stored = stored_now();
    let learned = status_number(&last_status, "Contacts learned") - learned_before;
    let dropped = field(&last_status, "Writes pending");
    let figures = WriterFigures {
        cdrs,
        issue_seconds,
        learned,
        learn_seconds: learned_at.unwrap_or(drain_seconds),
        stored,
        drain_seconds,
        max_pending,
        dropped,
    };
    say(
        results,
        &format!(
            "  writer (PostgreSQL): {cdrs} calls originated in {issue_seconds:.1} s; {learned} contacts learned in {:.1} s \
             ({:.0}/s); {stored} stored in {drain_seconds:.1} s ({:.0}/s); most pending {max_pending}; {}{}",
            figures.learn_seconds,
            learned as f64 / figures.learn_seconds.max(1e-3),
            stored as f64 / drain_seconds.max(1e-3),
            figures.dropped,
            if done.is_none() { " — NOT all stored within 10 minutes" } else { "" }
        ),
    );
    results.writer = Some(figures);
}

fn plot(settings: &Settings, results: &Results) {
    if settings.sizes.len() < 2 && !settings.quick {
        println!("  (one size only: no growth plot)");
        return;
    }
    let panels: Vec<plot::Panel> = settings
        .stores
        .iter()
        .map(|&store| plot::Panel {
            title: store.name().to_string(),
            series: ["a", "b", "c", "d"]
                .iter()
                .map(|&case| plot::Series {
                    label: format!("({case}) {}", CASES.iter().find(|c| c.0 == case).unwrap().1),
                    points: settings
                        .sizes
                        .iter()
                        .filter_map(|&rows| {
                            results.single.get(&(store, rows, case)).map(|t| (rows as f64, t.p50(), t.p99()))
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let caption = format!("res_sticky vs func_odbc: µs per lookup, one channel ({})", today());
    match plot::draw(&settings.plot, &caption, &panels) {
        Ok(()) => println!("  plot: {}", settings.plot.display()),
        Err(error) => panic!("the plot {}: {error}", settings.plot.display()),
    }
}

/// The machine's load average (1, 5, 15 minutes): the machine is shared.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn today() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string()
}

/// The markdown tables for BENCHMARKS.md.
fn report(settings: &Settings, results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "<!-- made by make bench, {} -->\n", today());
    let _ = writeln!(out, "| rows | store | load cdr | sticky import cdr | rows/s | contacts stored / expected |");
    let _ = writeln!(out, "|---:|---|---:|---:|---:|---:|");
    for ((store, rows), (load, read, written, seconds, stored, expected)) in &results.imports {
        let _ = writeln!(
            out,
            "| {} | {} | {load:.1} s | {read} rows, {written} contacts in {seconds:.1} s | {:.0} | {stored} / {expected} |",
            plot::format_rows(*rows as f64),
            store.name(),
            *read as f64 / seconds.max(1e-3)
        );
    }
    for &store in &settings.stores {
        let _ = writeln!(out, "\n**{}**, one channel, µs per lookup (p50 / p99), % found\n", store.name());
        let _ = write!(out, "| case |");
        for rows in &settings.sizes {
            let _ = write!(out, " {} |", plot::format_rows(*rows as f64));
        }
        let _ = write!(out, "\n|---|");
        for _ in &settings.sizes {
            let _ = write!(out, "---:|");
        }
        out.push('\n');
        for (case, label, _) in CASES {
            let _ = write!(out, "| ({case}) {} |", label.replace('$', "\\$"));
            for &rows in &settings.sizes {
                match results.single.get(&(store, rows, case)) {
                    Some(t) => {
                        let _ = write!(out, " {} / {} ({:.0}%) |", us(t.p50()), us(t.p99()), t.hit_rate());
                    }
                    None => out.push_str(" - |"),
                }
            }
            out.push('\n');
        }
        let _ = write!(out, "| (d)/(f) p50 |");
        for &rows in &settings.sizes {
            let ratio = |a: &str, b: &str| {
                Some(results.single.get(&(store, rows, a))?.p50() / results.single.get(&(store, rows, b))?.p50())
            };
            let _ = write!(out, " {} |", ratio("d", "f").map_or("-".into(), |r| format!("{r:.2}×")));
        }
        let _ = write!(out, "\n| (a)/(d) p50 |");
        for &rows in &settings.sizes {
            let ratio = |a: &str, b: &str| {
                Some(results.single.get(&(store, rows, a))?.p50() / results.single.get(&(store, rows, b))?.p50())
            };
            let _ = write!(out, " {} |", ratio("a", "d").map_or("-".into(), |r| format!("{r:.0}×")));
        }
        out.push('\n');
    }
    if !results.steps.is_empty() {
        let _ = writeln!(out, "\nCold lookups (c), step by step (`sticky show status`, p50/p99):\n");
        let _ = writeln!(out, "| store | rows | steps |");
        let _ = writeln!(out, "|---|---:|---|");
        for ((store, rows), steps) in &results.steps {
            let _ = writeln!(out, "| {} | {} | {steps} |", store.name(), plot::format_rows(*rows as f64));
        }
    }
    if !results.concurrent.is_empty() {
        let _ = writeln!(out, "\n| store | rows | channels | case | lookups/s | p50 | p99 | found |");
        let _ = writeln!(out, "|---|---:|---:|---|---:|---:|---:|---:|");
        for ((store, rows, case, channels), t) in &results.concurrent {
            let _ = writeln!(
                out,
                "| {} | {} | {channels} | ({case}) {} | {:.0} | {} | {} | {:.0}% |",
                store.name(),
                plot::format_rows(*rows as f64),
                CASES.iter().find(|c| c.0 == *case).unwrap().1.replace('$', "\\$"),
                t.per_second(),
                us(t.p50()),
                us(t.p99()),
                t.hit_rate()
            );
        }
    }
    if !results.throughput.is_empty() {
        let _ = writeln!(
            out,
            "\n| store | rows | channels | LAST_AGENT cold calls/s | LAST_AGENT warm calls/s | \\${{LEN()}} calls/s |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        for ((store, rows, channels), (cold, warm, floor)) in &results.throughput {
            let _ = writeln!(
                out,
                "| {} | {} | {channels} | {cold:.0} | {warm:.0} | {floor:.0} |",
                store.name(),
                plot::format_rows(*rows as f64)
            );
        }
    }
    if !results.sip.is_empty() {
        let _ = writeln!(out, "\n| store | sipp | post-dial delay p50 | p99 | mean | Asterisk CPU per call |");
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
        for ((store, service), (rate, t, cpu)) in &results.sip {
            let label = if *service == "100" { "with STICKY_ROUTE" } else { "without" };
            let _ = writeln!(
                out,
                "| {} | {rate} cps, {} calls, {label} | {} | {} | {} | {:.2} ms |",
                store.name(),
                t.samples.len(),
                us(t.p50()),
                us(t.p99()),
                us(t.mean()),
                cpu * 1000.0
            );
        }
    }
    if let Some(m) = &results.memory {
        let _ = writeln!(out, "\n{}.", m.describe());
    }
    if let Some(w) = &results.writer {
        let _ = writeln!(
            out,
            "\nWriter (PostgreSQL): {} calls originated in {:.1} s; {} contacts learned in {:.1} s ({:.0}/s); {} stored in {:.1} s \
             ({:.0}/s); most writes pending {}; at the end: {}.",
            w.cdrs,
            w.issue_seconds,
            w.learned,
            w.learn_seconds,
            w.learned as f64 / w.learn_seconds.max(1e-3),
            w.stored,
            w.drain_seconds,
            w.stored as f64 / w.drain_seconds.max(1e-3),
            w.max_pending,
            w.dropped
        );
    }
    out
}

fn main() {
    let settings = Settings::from_env();
    let mut results = Results::default();
    let started = Instant::now();
    say(
        &mut results,
        &format!(
            "res_sticky benchmark, {}: sizes {:?}, stores {:?}{}; {} cores (shared), load average {}",
            today(),
            settings.sizes,
            settings.stores.iter().map(|s| s.name()).collect::<Vec<_>>(),
            if settings.quick { ", quick" } else { "" },
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average()
        ),
    );
    let dir_inside = format!("{TESTS_DIR}/bench-data-{}", std::process::id());
    let dir = root().host_path(&dir_inside);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("data dir");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod data dir");
    let world = World {
        pg: settings.stores.contains(&Store::Postgres).then(|| Server::start(Kind::Postgres, "bench-pg")),
        my: settings.stores.contains(&Store::MariaDb).then(|| Server::start(Kind::MariaDb, "bench-my")),
        dir_inside,
        dir,
    };
    let now = jiff::Timestamp::now().as_second();
    // BENCH_ONLY=lookups: the sizes' lookups alone; BENCH_ONLY=writer: the writer alone.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let concurrency_size =
        settings.sizes.iter().copied().filter(|&s| s <= 1_000_000).max().unwrap_or(settings.sizes[0]);
    for &rows in settings.sizes.iter().filter(|_| only != "writer") {
        let (_, csv) = world.csv(rows);
        let generating = Instant::now();
        let summary = data::generate(&csv, rows, now, 0x5717_c4e5 + rows);
        fs::set_permissions(&csv, fs::Permissions::from_mode(0o644)).expect("chmod csv");
        let seconds = generating.elapsed().as_secs_f64();
        say(
            &mut results,
            &format!(
                "\n{rows} cdr rows generated in {seconds:.1} s: {} clients, {} calls from returning clients, {} inbound, {} outbound, \
                 {} internal, {} numbers with spaces or dashes, {} contacts",
                summary.clients,
                summary.returning_calls,
                summary.inbound,
                summary.outbound,
                summary.internal,
                summary.formatted,
                summary.contacts
            ),
        );
        results.generated.insert(rows, (summary.clone(), seconds));
        for &store in &settings.stores {
            let loaded = load(&world, store, rows);
            let mut instance = start(&world, store, rows, &format!("bench-{}", store.name().to_lowercase()));
            let (read, written, import_seconds, line) = import(&instance);
            let stored = stored_contacts(&world, &instance, store, rows);
            say(
                &mut results,
                &format!(
                    "  {}: cdr loaded in {:.1} s; {line}; {stored} contacts stored of {} expected",
                    store.name(),
                    loaded.as_secs_f64(),
                    summary.contacts
                ),
            );
            results
                .imports
                .insert((store, rows), (loaded.as_secs_f64(), read, written, import_seconds, stored, summary.contacts));
            let rss =
                |instance: &Instance| format!("RSS {} kB, {} numbers cached", instance.rss_kb(), instance.cached());
            say(&mut results, &format!("    after the import: {}; load average {}", rss(&instance), load_average()));
            lookups(&settings, &mut results, &mut instance, store, rows, summary.clients);
            say(&mut results, &format!("    after the lookups: {}", rss(&instance)));
            if rows == concurrency_size && only.is_empty() {
                concurrency(&settings, &mut results, &mut instance, store, rows, summary.clients);
                say(&mut results, &format!("    after concurrency: {}", rss(&instance)));
                sip(&settings, &mut results, &instance, store, summary.clients);
                say(&mut results, &format!("    after sipp: {}", rss(&instance)));
            }
            {
                let status = instance.status();
                say(
                    &mut results,
                    &format!(
                        "    sticky show status: lookups {}; store reads {}; writes pending {}",
                        field(&status, "Lookups"),
                        field(&status, "Store reads"),
                        field(&status, "Writes pending")
                    ),
                );
            }
            drop(instance);
            if rows == concurrency_size && store == settings.stores[0] && only.is_empty() {
                let numbers = std::env::var("BENCH_MEMORY").ok().and_then(|n| parse_size(&n));
                memory(
                    &mut results,
                    &world,
                    store,
                    rows,
                    numbers.unwrap_or(if settings.quick { 10_000 } else { 1_000_000 }),
                );
            }
            if store == Store::Sqlite {
                let _ = fs::remove_file(root().host_path(&world.sqlite_cdr(rows)));
            }
        }
        let _ = fs::remove_file(&csv);
    }
    // The table and the plot first: the writer's burst is the roughest part.
    if only != "writer" && !results.single.is_empty() {
        plot(&settings, &results);
    }
    let write_report = |results: &Results| {
        let text = report(&settings, results);
        let _ = fs::create_dir_all(settings.report.parent().unwrap());
        fs::write(&settings.report, format!("{text}\n```\n{}```\n", results.text)).expect("report");
        text
    };
    write_report(&results);
    if only.is_empty() || only == "writer" {
        writer(&settings, &mut results, &world);
    }
    say(&mut results, &format!("\nload average at the end: {}", load_average()));
    let text = write_report(&results);
    println!(
        "\n{text}\n  report: {}\n  the whole run took {:.0} s",
        settings.report.display(),
        started.elapsed().as_secs_f64()
    );
    drop(world);
    let _ = fs::remove_dir_all(root().host_path(&format!("{TESTS_DIR}/bench-data-{}", std::process::id())));
}
