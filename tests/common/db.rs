//! Real database servers for the tests, each private to one test: its own
//! data directory inside the root and its own port, stopped when dropped.

use std::fs;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::root::{root, Root};
use super::wait_for;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    MariaDb,
}

pub struct Server {
    root: &'static Root,
    pub kind: Kind,
    pub port: u16,
    /// The address it listens on.
    pub host: String,
    /// The private network namespace it runs in, if any.
    netns: Option<NetNs>,
    dir_inside: String,
    dir: PathBuf,
    child: Option<Child>,
    /// Settings given on the server's command line after the harness's own
    /// (PostgreSQL's `-c name=value`), for a test that needs more.
    pub settings: Vec<String>,
}

/// A network namespace of the test's own, reached from the host over a
/// veth pair: a server in it can be cut off without a trace (a black hole).
pub struct NetNs {
    pub name: String,
    host_if: String,
    ns_if: String,
    pub host_ip: String,
    pub ns_ip: String,
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().expect("running ip");
    assert!(output.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr));
}

impl NetNs {
    /// A namespace with a /30 of its own (derived from a port the allocator
    /// handed out, so unique among the tests running).
    pub fn new() -> NetNs {
        let port = super::asterisk::free_port();
        // 100.64.0.0/16 (shared address space), one /30 per port.
        let base = u32::from(port).saturating_sub(20_000) * 4;
        let address = |last: u32| format!("100.64.{}.{}", (base + last) / 256, (base + last) % 256);
        let ns = NetNs {
            name: format!("sticky-{port}"),
            host_if: format!("sth{port}"),
            ns_if: format!("stn{port}"),
            host_ip: address(1),
            ns_ip: address(2),
        };
        let _ = Command::new("ip").args(["netns", "del", &ns.name]).output();
        ip(&["netns", "add", &ns.name]);
        ip(&["link", "add", &ns.host_if, "type", "veth", "peer", "name", &ns.ns_if]);
        ip(&["link", "set", &ns.ns_if, "netns", &ns.name]);
        ip(&["addr", "add", &format!("{}/30", ns.host_ip), "dev", &ns.host_if]);
        ip(&["link", "set", &ns.host_if, "up"]);
        ns.inside(&["addr", "add", &format!("{}/30", ns.ns_ip), "dev", &ns.ns_if]);
        ns.inside(&["link", "set", &ns.ns_if, "up"]);
        ns.inside(&["link", "set", "lo", "up"]);
        ns
    }

    fn inside(&self, args: &[&str]) {
        let mut all = vec!["netns", "exec", &self.name, "ip"];
        all.extend_from_slice(args);
        ip(&all);
    }

    /// Drops every packet to the namespace's address, silently: the host
    /// keeps sending (its neighbour entry is pinned), the namespace no longer
    /// has the address, so nothing answers, not even a reset.
    pub fn black_hole(&self) {
        let mac = fs::read_to_string(format!("/sys/class/net/{}/address", self.host_if)).expect("mac");
        let output = Command::new("ip")
            .args(["netns", "exec", &self.name, "cat", &format!("/sys/class/net/{}/address", self.ns_if)])
            .output()
            .expect("peer mac");
        let peer = String::from_utf8_lossy(&output.stdout).trim().to_string();
        assert!(!peer.is_empty() && !mac.is_empty());
        ip(&["neigh", "replace", &self.ns_ip, "lladdr", &peer, "dev", &self.host_if, "nud", "permanent"]);
        self.inside(&["addr", "del", &format!("{}/30", self.ns_ip), "dev", &self.ns_if]);
    }

    /// Undoes [`NetNs::black_hole`].
    pub fn restore(&self) {
        self.inside(&["addr", "add", &format!("{}/30", self.ns_ip), "dev", &self.ns_if]);
        let _ = Command::new("ip").args(["neigh", "del", &self.ns_ip, "dev", &self.host_if]).output();
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).output();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).output();
    }
}

fn user_ids(root: &Root, user: &str) -> (u32, u32) {
    let passwd = fs::read_to_string(root.host_path("/etc/passwd")).expect("passwd");
    let line = passwd.lines().find(|l| l.starts_with(&format!("{user}:"))).unwrap_or_else(|| panic!("no user {user}"));
    let fields: Vec<&str> = line.split(':').collect();
    (fields[2].parse().unwrap(), fields[3].parse().unwrap())
}

fn chown(path: &std::path::Path, (uid, gid): (u32, u32)) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
}

fn postgres_bin(root: &Root) -> String {
    let dir = fs::read_dir(root.host_path("/usr/lib/postgresql")).expect("PostgreSQL in the root");
    let version = dir.filter_map(Result::ok).map(|e| e.file_name().to_string_lossy().into_owned()).max().unwrap();
    format!("/usr/lib/postgresql/{version}/bin")
}

impl Server {
    /// Initialises and starts a server for `test`.
    pub fn start(kind: Kind, test: &str) -> Server {
        Server::start_with(kind, test, None)
    }

    /// As [`Server::start`], in a network namespace of its own, so that the
    /// test can cut it off (see [`Server::black_hole`]).
    pub fn start_isolated(kind: Kind, test: &str) -> Server {
        Server::start_with(kind, test, Some(NetNs::new()))
    }

    fn start_with(kind: Kind, test: &str, netns: Option<NetNs>) -> Server {
        let port = super::asterisk::free_port();
        let host = netns.as_ref().map_or("127.0.0.1".to_string(), |ns| ns.ns_ip.clone());
        let mut server = Server::in_new_dir(kind, test, port, host, netns);
        server.initialise();
        server.run();
        server
    }

    /// A server not run yet, with an empty directory of its own.
    fn in_new_dir(kind: Kind, test: &str, port: u16, host: String, netns: Option<NetNs>) -> Server {
        let root = root();
        let dir_inside = format!("{}/db-{test}-{}", super::root::TESTS_DIR, std::process::id());
        let dir = root.host_path(&dir_inside);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("database dir");
        Server { root, kind, port, host, netns, dir_inside, dir, child: None, settings: Vec::new() }
    }

    fn initialise(&self) {
        let output = match self.kind {
            Kind::Postgres => {
                chown(&self.dir, user_ids(self.root, "postgres"));
                Command::new("chroot")
                    .arg("--userspec=postgres:postgres")
                    .arg(&self.root.path)
                    .arg(format!("{}/initdb", postgres_bin(self.root)))
                    .args([
                        "-D",
                        &format!("{}/data", self.dir_inside),
                        "-A",
                        "trust",
                        "-U",
                        "sticky",
                        "--no-sync",
                        "-E",
                        "UTF8",
                    ])
                    .output()
            }
            Kind::MariaDb => {
                // A temporary directory of its own: servers initialised at
                // the same time in one root otherwise trip over each other's
                // temporary tables in /tmp.
                fs::create_dir_all(self.dir.join("tmp")).expect("MariaDB's tmpdir");
                Command::new("chroot")
                    .arg(&self.root.path)
                    .args([
                        "mariadb-install-db",
                        "--user=root",
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                    ])
                    .arg(format!("--datadir={}/data", self.dir_inside))
                    .arg(format!("--tmpdir={}/tmp", self.dir_inside))
                    .output()
            }
        }
        .expect("running the database initialiser");
        assert!(
            output.status.success(),
            "initialising {:?} failed: {}",
            self.kind,
            String::from_utf8_lossy(&output.stderr)
        );
        if self.kind == Kind::Postgres {
            // Connections come from the host's side of a private network too.
            let hba = self.dir.join("data/pg_hba.conf");
            let mut text = fs::read_to_string(&hba).expect("pg_hba.conf");
            // and, for a standby's clients, from the rest of 127.0.0.0/8.
            text.push_str("host all all 100.64.0.0/16 trust\nhost all all 127.0.0.0/8 trust\n");
            fs::write(&hba, text).expect("pg_hba.conf");
        }
    }

    /// A streaming-replication standby of the PostgreSQL `primary`: a base
    /// backup (`pg_basebackup -R`, so it follows the primary), run as a hot
    /// standby on the same port at 127.0.0.2, as a second machine would be
    /// (psqlODBC's `Port` holds only 9 characters: one port for every host).
    pub fn standby_of(primary: &Server, test: &str) -> Server {
        assert_eq!(primary.kind, Kind::Postgres, "a standby of PostgreSQL");
        let mut server = Server::in_new_dir(Kind::Postgres, test, primary.port, "127.0.0.2".into(), None);
        let root = server.root;
        chown(&server.dir, user_ids(root, "postgres"));
        let output = Command::new("chroot")
            .arg("--userspec=postgres:postgres")
            .arg(&root.path)
            .arg(format!("{}/pg_basebackup", postgres_bin(root)))
            .args(["-h", &primary.host, "-p", &primary.port.to_string(), "-U", "sticky"])
            .args(["-D", &format!("{}/data", server.dir_inside), "-R", "-X", "stream", "--no-sync"])
            .output()
            .expect("running pg_basebackup");
        assert!(output.status.success(), "pg_basebackup failed: {}", String::from_utf8_lossy(&output.stderr));
        server.run();
        assert_eq!(server.sql("SELECT pg_is_in_recovery()").trim(), "t", "a standby");
        server
    }

    /// Promotes a standby to primary and waits until it takes writes.
    pub fn promote(&self) {
        assert_eq!(self.sql("SELECT pg_promote(true, 30)").trim(), "t", "promoted");
    }

    /// Cuts the server off without a trace (it must run isolated).
    pub fn black_hole(&self) {
        self.netns.as_ref().expect("an isolated server").black_hole();
    }

    /// Connects the server again after [`Server::black_hole`].
    pub fn restore(&self) {
        self.netns.as_ref().expect("an isolated server").restore();
    }

    /// Starts the server process and waits until it accepts connections.
    pub fn run(&mut self) {
        let log = fs::File::create(self.dir.join("server.log")).expect("server log");
        let mut command = match &self.netns {
            Some(ns) => {
                let mut command = Command::new("ip");
                command.args(["netns", "exec", &ns.name, "chroot"]);
                command
            }
            None => Command::new("chroot"),
        };
        match self.kind {
            Kind::Postgres => {
                command
                    .arg("--userspec=postgres:postgres")
                    .arg(&self.root.path)
                    .arg(format!("{}/postgres", postgres_bin(self.root)))
                    .args([
                        "-D",
                        &format!("{}/data", self.dir_inside),
                        "-p",
                        &self.port.to_string(),
                        "-k",
                        &self.dir_inside,
                        "-c",
                        &format!("listen_addresses={}", self.host),
                        "-c",
                        "fsync=off",
                        "-c",
                        "max_connections=60",
                    ]);
                for setting in &self.settings {
                    command.args(["-c", setting]);
                }
            }
            Kind::MariaDb => {
                command.arg(&self.root.path).arg("mariadbd").args([
                    "--user=root",
                    &format!("--datadir={}/data", self.dir_inside),
                    &format!("--tmpdir={}/tmp", self.dir_inside),
                    &format!("--port={}", self.port),
                    &format!("--bind-address={}", self.host),
                    &format!("--socket={}/mysqld.sock", self.dir_inside),
                    &format!("--pid-file={}/mysqld.pid", self.dir_inside),
                    "--skip-log-bin",
                    "--skip-name-resolve",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-buffer-pool-size=32M",
                ]);
            }
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting the server");
        self.child = Some(child);
        let ready = wait_for(Duration::from_secs(30), || {
            if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                panic!(
                    "{:?} exited while starting ({status}):\n{}",
                    self.kind,
                    fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
                );
            }
            self.sql_try("SELECT 1").ok().map(|_| ())
        });
        assert!(
            ready.is_some(),
            "{:?} did not start:\n{}",
            self.kind,
            fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
        if self.kind == Kind::MariaDb {
            self.sql("CREATE DATABASE IF NOT EXISTS sticky");
        }
    }

    /// The server's main process (PostgreSQL's postmaster), while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's directory inside the root (for files a client there reads).
    pub fn dir_inside(&self) -> &str {
        &self.dir_inside
    }

    /// Kills the server and its worker processes with SIGKILL, as a crash
    /// of the machine would (it recovers when run again).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let parent = child.id().to_string();
            let workers: Vec<i32> = fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
                    // The parent's pid is the fourth field, after the ")" ending the name.
                    let after = stat.rsplit_once(')')?.1;
                    (after.split_whitespace().nth(1)? == parent).then(|| entry.file_name().to_str()?.parse().ok())?
                })
                .collect();
            let _ = child.kill();
            for worker in workers {
                // SAFETY: signalling a process of our own server.
                unsafe { libc::kill(worker, libc::SIGKILL) };
            }
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server (a fast shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // PostgreSQL's fast shutdown is SIGINT; MariaDB shuts down on SIGTERM.
            let signal = if self.kind == Kind::Postgres { libc::SIGINT } else { libc::SIGTERM };
            // SAFETY: signalling our own child process.
            unsafe { libc::kill(child.id() as i32, signal) };
            if wait_for(Duration::from_secs(20), || child.try_wait().ok().flatten()).is_none() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }

    /// The ODBC connection string for sticky.conf (semicolons escaped).
    pub fn dsn_for_conf(&self) -> String {
        self.connection_string().replace(';', "\\;")
    }

    pub fn connection_string(&self) -> String {
        match self.kind {
            Kind::Postgres => format!(
                "Driver=PostgreSQL Unicode;Server={};Port={};Database=postgres;Uid=sticky;Pwd=unused",
                self.host, self.port
            ),
            Kind::MariaDb => {
                format!(
                    "Driver=MariaDB Unicode;Server={};Port={};Database=sticky;User=root;Password=",
                    self.host, self.port
                )
            }
        }
    }

    /// Runs SQL with the server's own client; the rows as `|`-separated lines.
    pub fn sql_try(&self, sql: &str) -> Result<String, String> {
        let output = match self.kind {
            Kind::Postgres => self.root.run(
                "psql",
                &["-h", &self.host, "-p", &self.port.to_string(), "-U", "sticky", "-d", "postgres", "-At", "-c", sql],
            ),
            Kind::MariaDb => self.root.run(
                "mariadb",
                &[
                    "-h",
                    &self.host,
                    "-P",
                    &self.port.to_string(),
                    "-uroot",
                    "--batch",
                    "--skip-column-names",
                    "-e",
                    sql,
                ],
            ),
        };
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).replace('\t', "|"))
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Starts a session of the server's own client running `sql` in the
    /// background (a lock held, say); killed when the returned child is.
    pub fn session(&self, sql: &str) -> Child {
        let mut command = Command::new("chroot");
        command.arg(&self.root.path);
        match self.kind {
            Kind::Postgres => command.args([
                "psql",
                "-h",
                &self.host,
                "-p",
                &self.port.to_string(),
                "-U",
                "sticky",
                "-d",
                "postgres",
                "-c",
                sql,
            ]),
            Kind::MariaDb => {
                command.args(["mariadb", "-h", &self.host, "-P", &self.port.to_string(), "-uroot", "-e", sql])
            }
        };
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("a client session")
    }

    pub fn sql(&self, sql: &str) -> String {
        self.sql_try(sql).unwrap_or_else(|e| panic!("{:?}: {sql}: {e}", self.kind))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            super::root::keep_for_inspection(&self.dir);
        } else {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Runs SQL against an instance's embedded SQLite history file.
pub fn sqlite(asterisk: &super::Asterisk, sql: &str) -> String {
    let file = format!("{}/db/sticky.sqlite3", asterisk.dir_inside);
    let output = root().run("sqlite3", &["-cmd", ".timeout 5000", &file, sql]);
    assert!(output.status.success(), "sqlite3 {sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}
