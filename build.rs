// Builds the small C helper for long double arithmetic (see src/native/longdouble.c).
fn main() {
    println!("cargo:rerun-if-changed=src/native/longdouble.c");
    cc::Build::new()
        .file("src/native/longdouble.c")
        .warnings(true)
        .compile("tandem_native");
    // The tandem binary sets glommio's io_uring rings up with IORING_SETUP_COOP_TASKRUN by
    // wrapping liburing's setup call (src/main.rs, `ring_setup`). Binaries only: the wrapper
    // lives in main.rs, and tests and benches do not need it.
    println!("cargo:rustc-link-arg-bins=-Wl,--wrap=__sys_io_uring_setup");
}
