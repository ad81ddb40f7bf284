//! Prints one listing of each kind as JSON: `cargo run -p xietong-demo --example peek`.
fn main() {
    let data = xietong_demo::generate(xietong_demo::DEFAULT_SEED);
    let mut shown = std::collections::HashSet::new();
    for body in &data.listings {
        if shown.insert(body.kind()) {
            println!("{:#?}", body);
        }
    }
}
