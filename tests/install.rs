//! `make install` into a staging directory: the module, the XML docs where
//! Asterisk finds third-party docs, and the sample config unless one exists.

use std::fs;
use std::path::Path;
use std::process::Command;

fn install(destdir: &Path) -> std::process::Output {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let module = std::env::var("RES_STICKY_SO").unwrap_or_else(|_| format!("{manifest}/res_sticky.so"));
    assert!(Path::new(&module).is_file(), "{module} does not exist: build it with `make` first");
    Command::new("make")
        .current_dir(manifest)
        .args(["--no-print-directory", "-o", "res_sticky.so", "install"])
        .arg(format!("DESTDIR={}", destdir.display()))
        .args(["MODULES_DIR=/usr/lib/asterisk/modules", "ASTDATADIR=/usr/share/asterisk", "ASTETCDIR=/etc/asterisk"])
        .output()
        .expect("running make install")
}

#[test]
fn make_install_lays_out_module_docs_and_config() {
    let destdir = std::env::temp_dir().join(format!("sticky-install-{}", std::process::id()));
    let _ = fs::remove_dir_all(&destdir);
    let output = install(&destdir);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let module = destdir.join("usr/lib/asterisk/modules/res_sticky.so");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let built = fs::read(manifest.join("res_sticky.so")).unwrap();
    let installed = fs::read(&module).unwrap();
    assert!(installed.starts_with(b"\x7fELF"), "the module is installed");
    assert!(
        installed == built,
        "the installed module is this build's ({} bytes installed, {} built)",
        installed.len(),
        built.len()
    );
    let docs =
        fs::read_to_string(destdir.join("usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml")).unwrap();
    assert!(docs.contains("<function name=\"STICKY_ROUTE\""));
    assert_eq!(docs, fs::read_to_string(manifest.join("doc/res_sticky-en_US.xml")).unwrap(), "this checkout's docs");
    let conf = destdir.join("etc/asterisk/sticky.conf");
    let sample = fs::read_to_string(manifest.join("conf/sticky.conf.sample")).unwrap();
    assert_eq!(fs::read_to_string(&conf).unwrap(), sample, "the sample config");
    // An existing sticky.conf is kept.
    fs::write(&conf, "[general]\nwindow = 2h\n").unwrap();
    let again = install(&destdir);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("keeping the existing"));
    assert_eq!(fs::read_to_string(&conf).unwrap(), "[general]\nwindow = 2h\n");
    let _ = fs::remove_dir_all(&destdir);
}

/// `make deb`'s packaging step on the built module: the package depends on
/// exactly the ABI the test root's Asterisk provides (the sum of the headers
/// built against), ships sticky.conf as a conffile and the XML help where
/// Asterisk looks. `make deb-test` installs it; this is the quick check.
#[test]
fn the_debian_package_names_the_asterisk_abi_it_was_built_for() {
    let manifest = env!("CARGO_MANIFEST_DIR");
    let module = std::env::var("RES_STICKY_SO").unwrap_or_else(|_| format!("{manifest}/res_sticky.so"));
    let root = std::env::var("STICKY_ROOT").unwrap_or_else(|_| "/var/cache/res-sticky/root".into());
    let out = std::env::temp_dir().join(format!("sticky-deb-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let built = Command::new(format!("{manifest}/packaging/deb/build.sh"))
        .args([module.as_str(), &format!("{manifest}/asterisk-headers"), &root])
        .arg(&out)
        .output()
        .expect("running packaging/deb/build.sh");
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let deb =
        fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|x| x == "deb"));
    let deb = deb.expect("a .deb was written");
    let field = |name: &str| {
        let output = Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name).output().unwrap();
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    };
    let headers = fs::read_to_string(format!("{manifest}/asterisk-headers/asterisk/buildopts.h")).unwrap();
    let sum = headers.split("AST_BUILDOPT_SUM \"").nth(1).and_then(|rest| rest.split('"').next()).unwrap();
    let depends = field("Depends");
    assert!(depends.starts_with(&format!("asterisk (>= 22), asterisk-abi-{sum}, ")), "{depends}");
    assert!(depends.contains("libsqliteodbc") && depends.contains("libodbc2"), "{depends}");
    let provides = Command::new("dpkg-query")
        .arg(format!("--admindir={root}/var/lib/dpkg"))
        .args(["-W", "-f=${Provides}", "asterisk"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&provides.stdout).contains(&format!("asterisk-abi-{sum}")), "the root provides it");
    let listing = Command::new("dpkg-deb").arg("-c").arg(&deb).output().unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("./etc/asterisk/sticky.conf"), "{listing}");
    assert!(listing.contains("./usr/share/asterisk/documentation/thirdparty/res_sticky-en_US.xml"), "{listing}");
    assert!(listing.contains("./usr/share/doc/res-sticky/copyright") && listing.contains("changelog.gz"), "{listing}");
    let conffiles =
        Command::new("sh").arg("-c").arg(format!("dpkg-deb -I '{}' conffiles", deb.display())).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&conffiles.stdout).trim(), "/etc/asterisk/sticky.conf");
    let _ = fs::remove_dir_all(&out);
}
