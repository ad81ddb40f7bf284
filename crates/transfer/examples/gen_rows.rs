//! Writes a CSV of achievement rows for the import benchmark and the crash test.
//!
//! ```text
//! cargo run --release -p xietong-transfer --example gen_rows -- /tmp/achievements-100k.csv 100000
//! xietong import achievement /tmp/achievements-100k.csv --data /tmp/bench-data
//! ```
//!
//! Every row is valid and carries an `external_id`, so a rerun of the import changes nothing.

use std::io::Write;

const REGIONS: [&str; 6] = ["110106", "丰台区", "北京市海淀区", "120116", "河北省保定市", "133100"];
const INDUSTRIES: [&str; 4] = ["C", "35", "3741", "专用设备制造业"];

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "achievements-100k.csv".to_string());
    let rows: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(
        out,
        "external_id,title,summary,keywords,industry_codes,region_codes,trl,price_min,price_max,owner_org,contact_email"
    )?;
    for index in 0..rows {
        writeln!(
            out,
            "A{index:07},面向智能制造的激光雷达成果 {index},第 {index} 项成果的摘要：低成本固态激光雷达，适用于工业检测,激光雷达;智能制造;{kw},{industry},{region},{trl},{min},{max},北京某研究院{org},lab{org}@example.com",
            kw = index % 97,
            industry = INDUSTRIES[index % INDUSTRIES.len()],
            region = REGIONS[index % REGIONS.len()],
            trl = index % 9 + 1,
            min = index % 50,
            max = index % 50 + 10,
            org = index % 13,
        )?;
    }
    out.flush()?;
    eprintln!("wrote {rows} rows to {path}");
    Ok(())
}
