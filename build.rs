// Builds the small C helper for long double arithmetic (see src/native/longdouble.c).
fn main() {
    println!("cargo:rerun-if-changed=src/native/longdouble.c");
    cc::Build::new()
        .file("src/native/longdouble.c")
        .warnings(true)
        .compile("tandem_native");
}
