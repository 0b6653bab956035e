//! Builds the Asterisk side of res_sticky: the C shim (AST_MODULE_INFO and the
//! registration macros) and the bindgen bindings, both against the headers of
//! the Asterisk the module will load into. Asterisk refuses a module whose
//! buildopt checksum differs from its own, so headers and binary must match.

use std::env;
use std::path::{Path, PathBuf};

const MODULE_DEFINES: [(&str, &str); 2] =
    [("AST_MODULE", "\"res_sticky\""), ("AST_MODULE_SELF_SYM", "__internal_res_sticky_self")];

fn main() {
    println!("cargo:rerun-if-env-changed=ASTERISK_INCLUDE_DIR");
    println!("cargo:rerun-if-changed=wrapper.h");
    println!("cargo:rerun-if-changed=src/shim");
    if env::var_os("CARGO_FEATURE_MODULE").is_none() {
        return;
    }
    let include = asterisk_include_dir();
    println!("cargo:rerun-if-changed={}", include.join("asterisk.h").display());
    println!("cargo:rerun-if-changed={}", include.join("asterisk/buildopts.h").display());
    build_shim(&include);
    generate_bindings(&include);
}

/// `ASTERISK_INCLUDE_DIR`, else `asterisk-headers/` (filled by `make headers`),
/// else `/usr/include` (an Asterisk installed with its development headers).
fn asterisk_include_dir() -> PathBuf {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let candidates: Vec<PathBuf> = match env::var_os("ASTERISK_INCLUDE_DIR") {
        Some(dir) if !dir.is_empty() => vec![PathBuf::from(dir)],
        _ => vec![manifest.join("asterisk-headers"), PathBuf::from("/usr/include")],
    };
    for dir in &candidates {
        if dir.join("asterisk.h").is_file() && dir.join("asterisk/module.h").is_file() {
            return dir.clone();
        }
    }
    panic!(
        "no Asterisk headers found in {}: run `make headers` (Debian's asterisk-dev of the test \
         root) or set ASTERISK_INCLUDE_DIR to the include directory of the Asterisk you load into",
        candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    );
}

fn build_shim(include: &Path) {
    let mut build = cc::Build::new();
    build
        .file("src/shim/module.c")
        .include(include)
        .include("src/shim")
        .flag_if_supported("-fno-strict-aliasing")
        .flag("-Wno-unused-parameter")
        .flag_if_supported("-Wno-old-style-declaration")
        .define("_GNU_SOURCE", None)
        // The shim is never called from Rust in full: without whole-archive the
        // linker would drop the object holding AST_MODULE_INFO's constructor.
        .cargo_metadata(false);
    for (name, value) in MODULE_DEFINES {
        build.define(name, value);
    }
    build.compile("res_sticky_shim");
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static:+whole-archive=res_sticky_shim");
}

fn generate_bindings(include: &Path) {
    let mut builder = bindgen::Builder::default()
        .header("wrapper.h")
        .clang_arg(format!("-I{}", include.display()))
        .clang_arg("-I.")
        .clang_arg("-fblocks")
        .clang_arg("-D_GNU_SOURCE")
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .layout_tests(false)
        .derive_default(false)
        .generate_comments(false)
        .prepend_enum_name(false)
        .allowlist_function("rs_sticky_shim_.*")
        .allowlist_function("ast_(cdr_register|cdr_unregister|cdr_backend_suspend|device_state)")
        .allowlist_function(
            "ast_(config_load2|config_destroy|category_browse_filtered|category_get_name|category_first)",
        )
        .allowlist_function("ast_channel_(name|caller|connected|language|bridge_peer|uniqueid|linkedid)")
        .allowlist_function("ast_channel_(pbx|tech|callid)|ast_read_threadstorage_callid")
        .allowlist_function("ast_(autoservice_start|autoservice_stop|check_hangup|unregister_application|answer)")
        .allowlist_function("ast_(play_and_record|app_getdata|stream_and_wait|fileexists)")
        .allowlist_var("ast_say_date_with_format")
        .allowlist_function("ast_say_digit_str")
        .allowlist_function(
            "pbx_(findapp|exec)|ast_func_read|ast_custom_function_find|ast_db_(put|del|gettree|freetree)",
        )
        .allowlist_function("pbx_builtin_(setvar_helper|getvar_helper)")
        .allowlist_function("ast_eid_to_str|ast_(config_AST_.*)")
        .allowlist_function("ast_(register_atexit|unregister_atexit|shutdown_final|cdr_engine_term)")
        .allowlist_function("stasis_unsubscribe_and_join|ast_(safe_sleep_conditional|indicate|moh_start|moh_stop)")
        .allowlist_type("ast_control_frame_type")
        .allowlist_var("ast_config_AST_.*|ast_eid_default|ast_options")
        .allowlist_type("ast_cli_args|ast_cli_entry|ast_cdr|ast_flags|ast_variable|ast_config")
        .allowlist_var("CLI_(INIT|GENERATE|HANDLER|SUCCESS|SHOWUSAGE|FAILURE)")
        .allowlist_var("__LOG_(DEBUG|NOTICE|WARNING|ERROR|VERBOSE|DTMF)")
        .allowlist_var("CONFIG_FLAG_.*|AST_MAX_.*")
        .allowlist_type(
            "ast_device_state|ast_cdr_disposition|ast_module_load_result|ast_cli_command|ast_custom_function",
        )
        .allowlist_var("AST_CDR_.*");
    for (name, value) in MODULE_DEFINES {
        builder = builder.clang_arg(format!("-D{name}={value}"));
    }
    let bindings = builder.generate().expect("bindgen could not parse the Asterisk headers");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    bindings.write_to_file(out.join("bindings.rs")).expect("writing bindings.rs");
}
