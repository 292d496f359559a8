//! `make bench`: what a burst of concurrent wrong-password sign-ins costs Hearth. Prints its
//! resident memory idle, right after 128 concurrent bad sign-ins and at its peak (`VmHWM`),
//! how the 128 were answered, and how long a right sign-in from another address took while
//! the burst ran. The budget is under 100 MB after the burst.
//!
//! Hearth is the real release binary (`make build`), or `BENCH_HEARTH_BIN`, started as its
//! own process so that its memory can be read from `/proc`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;
use support::{binary, mib, status_kib, Hearth};

const BURST: usize = 128;

#[tokio::main]
async fn main() {
    let dir = support::data_dir();
    let mut add = Command::new(binary())
        .args(["user", "add", "bench", "--role", "member", "--log", "warn"])
        .arg("--data-dir")
        .arg(dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"the right password\n")
        .unwrap();
    assert!(add.wait().unwrap().success());

    let hearth = Hearth::start_with(&["--log", "error"], dir, |_| {}).await;
    let (url, pid) = (hearth.url.clone(), hearth.pid());
    let idle = status_kib(pid, "VmRSS:");

    // The burst, each with a name of its own (so no one name's throttle hides the cost).
    let client = reqwest::Client::new();
    let started = Instant::now();
    let burst: Vec<_> = (0..BURST)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            tokio::spawn(async move {
                let body = serde_json::json!({"username": format!("guess{i}"), "password": "wrong password"});
                client.post(format!("{url}/auth/login")).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
            })
        })
        .collect();
    // A right sign-in from another loopback address while the burst runs.
    let honest = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let honest_started = Instant::now();
    let honest_status = honest
        .post(format!("{url}/auth/login"))
        .json(&serde_json::json!({"username": "bench", "password": "the right password"}))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0);
    let honest_ms = honest_started.elapsed().as_secs_f64() * 1000.0;
    let mut statuses = BTreeMap::new();
    for task in burst {
        *statuses.entry(task.await.unwrap()).or_insert(0) += 1;
    }
    let burst_ms = started.elapsed().as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = status_kib(pid, "VmRSS:");
    let peak = status_kib(pid, "VmHWM:");

    println!("sign-in under a burst of {BURST} concurrent wrong passwords (one client address):");
    println!("  RSS idle                      {}", mib(idle));
    println!(
        "  RSS after the burst           {}   (budget: under 100 MB)",
        mib(after)
    );
    println!("  peak RSS (VmHWM)              {}", mib(peak));
    println!("  answers                       {statuses:?}   (401 checked, 429 throttled or busy)");
    println!("  burst answered in             {burst_ms:.0} ms");
    println!("  a right sign-in meanwhile     HTTP {honest_status} in {honest_ms:.0} ms (from another address)");
}
