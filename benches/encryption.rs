//! Encryption at rest against the same store without it, interleaved per
//! operation in rounds (each op on the sealed store right after the same op
//! on the plain one): typed `load` of a ~200-byte record, and durable `save`.
//!
//! ```text
//! cargo bench -p mcp-persist-benches --bench encryption          # 5 rounds
//! cargo bench -p mcp-persist-benches --bench encryption -- 9     # 9 rounds
//! ```

use std::time::{Duration, Instant};

mod common;

use common::{Record, record};
use mcp_persist::{EncryptionKey, Keyring, Store};

fn main() {
    let (benching, rounds) = common::bench_args(5, 1);
    let (loads, saves) = if benching {
        (20_000u64, 300u64)
    } else {
        (50, 5)
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let open = |name: &str, keys: Option<Keyring>| {
        let builder = Store::builder().sweep_interval(None).map_size(1 << 30);
        match keys {
            Some(keys) => builder.encryption(keys),
            None => builder,
        }
        .open_at(dir.path().join(name))
        .expect("open")
    };
    let key = EncryptionKey::generate("bench").expect("key");
    let plain = open("plain", None);
    let sealed = open("sealed", Some(Keyring::new(key, []).expect("keyring")));
    for i in 0..loads {
        record(i).save(&plain).blocking().expect("save");
        record(i).save(&sealed).blocking().expect("save");
    }
    let mut ratios: [Vec<f64>; 2] = Default::default();
    println!("round  plain load  sealed load  ratio | plain save  sealed save  ratio");
    let mut next = 10_000_000u64;
    for round in 0..rounds {
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for i in 0..loads {
            let id = format!("book-{i:08}");
            let start = Instant::now();
            let got: Option<Record> = Record::load(&plain, &id).blocking().expect("load");
            std::hint::black_box(got);
            let between = Instant::now();
            let got: Option<Record> = Record::load(&sealed, &id).blocking().expect("load");
            std::hint::black_box(got);
            b += between.elapsed();
            a += between - start;
        }
        let (load_plain, load_sealed) = (a / loads as u32, b / loads as u32);
        let (mut a, mut b) = (Duration::ZERO, Duration::ZERO);
        for i in 0..saves {
            let start = Instant::now();
            record(next + i).save(&plain).blocking().expect("save");
            let between = Instant::now();
            record(next + i).save(&sealed).blocking().expect("save");
            b += between.elapsed();
            a += between - start;
        }
        next += saves;
        let (save_plain, save_sealed) = (a / saves as u32, b / saves as u32);
        let r = [
            load_sealed.as_secs_f64() / load_plain.as_secs_f64(),
            save_sealed.as_secs_f64() / save_plain.as_secs_f64(),
        ];
        for (all, r) in ratios.iter_mut().zip(r) {
            all.push(r);
        }
        println!(
            "{round:>5}  {load_plain:>10.2?}  {load_sealed:>11.2?}  {:.2}x | {save_plain:>10.1?}  {save_sealed:>11.1?}  {:.3}x",
            r[0], r[1]
        );
    }
    let [load, save] = &mut ratios;
    println!(
        "median: sealed load {:.2}x plain, sealed durable save {:.3}x plain",
        common::median(load),
        common::median(save)
    );
}
