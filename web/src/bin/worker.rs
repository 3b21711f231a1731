//! The worker program (a dedicated Web Worker); see `vf_web::worker`.
#[cfg(target_arch = "wasm32")]
fn main() {
    vf_web::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("vf-worker runs in a Web Worker: build it with trunk (web/build.sh)");
    std::process::exit(2);
}
