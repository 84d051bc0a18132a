//! Prints what `mamori ingest --format evtx` would store, one line per record: the ECS document
//! as JSON, or `ERROR <message>`. For looking up records when writing tests and mappings:
//! `cargo run -p mamori-sources --example evtx_dump -- FILE.evtx...`

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        for item in mamori_sources::parse_evtx(&path, &bytes) {
            match item {
                Ok(ev) => println!("{}", serde_json::Value::Object(ev.doc)),
                Err(e) => println!("ERROR {e}"),
            }
        }
    }
}
