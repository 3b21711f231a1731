//! The page program (main thread); see `vf_web::page`.
#[cfg(target_arch = "wasm32")]
fn main() {
    vf_web::page::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("vf-page runs in a web browser: build it with trunk (web/build.sh)");
    std::process::exit(2);
}
