//! The provisioned test root (tests/root/provision.sh) and res_sticky's
//! installation into it.

use std::fs;
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub struct Root {
    /// The root on the host, e.g. /var/cache/res-sticky/root.
    pub path: PathBuf,
    /// The modules directory of this build, as seen inside the root: every
    /// Asterisk module of the root plus this build of res_sticky.
    pub module_dir: String,
    /// The data directory of this build, as seen inside the root: Asterisk's
    /// sounds and documentation plus this build's XML documentation.
    pub data_dir: String,
}

/// Where every instance, database and build directory of the tests lives,
/// inside the root.
pub const TESTS_DIR: &str = "/srv/res-sticky-tests";

/// An exclusive lock on a file, held until dropped (shared by every test process).
pub struct FileLock(fs::File);

impl FileLock {
    pub fn acquire(path: &Path) -> FileLock {
        let file = fs::OpenOptions::new().create(true).write(true).truncate(false).open(path).expect("lock file");
        // SAFETY: flock on a descriptor we own; blocks until granted.
        let result = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(result, 0, "flock {}", path.display());
        FileLock(file)
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor we locked.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The test root, checked and with this build of res_sticky installed.
pub fn root() -> &'static Root {
    static ROOT: OnceLock<Root> = OnceLock::new();
    ROOT.get_or_init(prepare)
}

fn prepare() -> Root {
    assert_eq!(unsafe_geteuid(), 0, "the integration tests run Asterisk in a chroot and must run as root");
    let path = PathBuf::from(std::env::var("STICKY_ROOT").unwrap_or_else(|_| "/var/cache/res-sticky/root".into()));
    assert!(
        path.join(".res-sticky-stamp").is_file() && path.join("usr/sbin/asterisk").is_file(),
        "the test root {} is not provisioned: run `make root` (tests/root/provision.sh)",
        path.display()
    );
    ensure_proc(&path);
    fs::create_dir_all(path.join("run/asterisk")).expect("run/asterisk");
    let tests = path.join(TESTS_DIR.trim_start_matches('/'));
    fs::create_dir_all(&tests).expect("instances dir");
    let stock_modules = fs::read_dir(path.join("usr/lib"))
        .expect("usr/lib")
        .filter_map(Result::ok)
        .map(|entry| entry.path().join("asterisk/modules"))
        .find(|dir| dir.join("app_dial.so").is_file())
        .expect("Asterisk's module directory in the root");
    let built =
        std::env::var("RES_STICKY_SO").map(PathBuf::from).unwrap_or_else(|_| manifest_dir().join("res_sticky.so"));
    assert!(built.is_file(), "{} does not exist: build the module with `make` first", built.display());
    let module = fs::read(&built).unwrap_or_else(|e| panic!("reading {}: {e}", built.display()));
    let docs = fs::read(manifest_dir().join("doc/res_sticky-en_US.xml")).expect("the XML documentation");
    let _lock = FileLock::acquire(&tests.join(".install.lock"));
    remove_leftovers(&path, &tests);
    let build = format!("build-{:016x}", content_id(&[&module, &docs]));
    let build_dir = tests.join(&build);
    if !build_dir.join("ready").is_file() {
        make_build_dir(&path, &stock_modules, &build_dir, &module, &docs);
    }
    // Touched on every use, so that the clean-up keeps what is in use.
    let _ = fs::write(build_dir.join("ready"), b"");
    Root { path, module_dir: format!("{TESTS_DIR}/{build}/modules"), data_dir: format!("{TESTS_DIR}/{build}/data") }
}

/// An id of the build's bytes (not a security hash: a name for a directory).
fn content_id(parts: &[&[u8]]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        part.hash(&mut hasher);
    }
    hasher.finish()
}

/// A modules directory and a data directory for one build: links to the
/// root's own files, and this build's module and documentation as copies.
/// So that test runs of different builds (two checkouts) never load each
/// other's module.
fn make_build_dir(root: &Path, stock_modules: &Path, build_dir: &Path, module: &[u8], docs: &[u8]) {
    let _ = fs::remove_dir_all(build_dir);
    let modules = build_dir.join("modules");
    fs::create_dir_all(&modules).expect("build modules dir");
    let inside = |host: &Path| PathBuf::from("/").join(host.strip_prefix(root).unwrap());
    for entry in fs::read_dir(stock_modules).expect("modules").filter_map(Result::ok) {
        if entry.file_name() != "res_sticky.so" {
            std::os::unix::fs::symlink(inside(&entry.path()), modules.join(entry.file_name())).expect("link");
        }
    }
    write_file(&modules.join("res_sticky.so"), module);
    let data = build_dir.join("data");
    let documentation = data.join("documentation");
    fs::create_dir_all(documentation.join("thirdparty")).expect("build data dir");
    let stock_data = root.join("usr/share/asterisk");
    for entry in fs::read_dir(&stock_data).expect("data").filter_map(Result::ok) {
        if entry.file_name() != "documentation" {
            std::os::unix::fs::symlink(inside(&entry.path()), data.join(entry.file_name())).expect("link");
        }
    }
    for entry in fs::read_dir(stock_data.join("documentation")).expect("docs").filter_map(Result::ok) {
        if entry.file_name() != "thirdparty" {
            std::os::unix::fs::symlink(inside(&entry.path()), documentation.join(entry.file_name())).expect("link");
        }
    }
    write_file(&documentation.join("thirdparty/res_sticky-en_US.xml"), docs);
    write_file(&build_dir.join("ready"), b"");
}

/// How long the directory of a failed test is kept for a look at its logs.
const KEEP_FAILED: std::time::Duration = std::time::Duration::from_secs(3600);

/// Marks the directory of a test that failed: the clean-up of later runs
/// leaves it for [`KEEP_FAILED`].
pub fn keep_for_inspection(dir: &Path) {
    let _ = fs::write(dir.join(".failed"), b"");
    eprintln!("kept for inspection: {}", dir.display());
}

/// Whether a process with this id is running.
fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The test process that made a directory (`<test>-<pid>-<n>` for an
/// instance, `db-<test>-<pid>` for a database), if its name tells.
fn owner(name: &str) -> Option<u32> {
    let parts: Vec<&str> = name.rsplit('-').collect();
    if name.starts_with("db-") {
        return parts.first()?.parse().ok();
    }
    parts.get(1)?.parse().ok()
}

/// Stops what test processes that died (an interrupted run) left in the
/// root — their Asterisk, databases and sipp — and removes their
/// directories, and build directories unused for a day. What belongs to
/// test processes still running (another run beside this one, `make demo`)
/// is left alone.
fn remove_leftovers(root: &Path, tests: &Path) {
    let Ok(entries) = fs::read_dir(tests) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let failed_at = entry.path().join(".failed").metadata().and_then(|m| m.modified()).ok();
        if failed_at.is_some_and(|at| at.elapsed().unwrap_or_default() < KEEP_FAILED) {
            kill_processes_using(root, &format!("{TESTS_DIR}/{name}/"));
            continue;
        }
        let stale = if name.starts_with("build-") {
            let used = entry.path().join("ready").metadata().and_then(|m| m.modified()).ok();
            used.is_none_or(|at| at.elapsed().unwrap_or_default() > std::time::Duration::from_secs(86_400))
        } else {
            owner(&name).is_some_and(|pid| !alive(pid))
        };
        if !stale || name.starts_with('.') {
            continue;
        }
        kill_processes_using(root, &format!("{TESTS_DIR}/{name}/"));
        let _ = fs::remove_dir_all(entry.path());
    }
}

/// Kills every process in the root whose command line names `dir`.
fn kill_processes_using(root: &Path, dir: &str) {
    let Ok(processes) = fs::read_dir("/proc") else {
        return;
    };
    for process in processes.filter_map(Result::ok) {
        let Ok(pid) = process.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let in_root = fs::read_link(process.path().join("root")).is_ok_and(|r| r == root);
        let cmdline = fs::read(process.path().join("cmdline")).unwrap_or_default();
        let names_dir = String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(dir.trim_end_matches('/'));
        if in_root && names_dir {
            // SAFETY: signalling a process by id; the worst case is a
            // process that just ended.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) {
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::File::create(&temporary).expect("temporary file");
    file.write_all(bytes).expect("writing");
    file.sync_all().expect("fsync");
    fs::rename(&temporary, path).expect("renaming into place");
}

fn unsafe_geteuid() -> u32 {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() }
}

fn ensure_proc(root: &Path) {
    let mounts = fs::read_to_string("/proc/mounts").unwrap_or_default();
    let target = root.join("proc");
    let mounted = mounts.lines().any(|line| line.split_whitespace().nth(1) == Some(target.to_str().unwrap()));
    if !mounted {
        let status = Command::new("mount").args(["-t", "proc", "proc"]).arg(&target).status().expect("mount");
        assert!(status.success(), "mounting proc into {}", root.display());
    }
}

impl Root {
    /// Host path of `inside` (an absolute path inside the root).
    pub fn host_path(&self, inside: &str) -> PathBuf {
        self.path.join(inside.trim_start_matches('/'))
    }

    /// Runs a program inside the root and waits for it — at most two
    /// minutes, so that a client stuck on a wrong server fails the test
    /// instead of hanging it.
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        self.run_for(program, args, 120)
    }

    /// [`Root::run`] given up to `seconds` (a long batch job).
    pub fn run_for(&self, program: &str, args: &[&str], seconds: u32) -> Output {
        Command::new("chroot")
            .arg(&self.path)
            .args(["timeout", "--kill-after=5", &seconds.to_string(), program])
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("chroot {program}: {e}"))
    }
}
