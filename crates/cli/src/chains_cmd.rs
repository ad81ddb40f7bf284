//! `xietong chains`: the planner's view on the command line — a chain's segments with their
//! supply, demand and gap label per region, or a segment's attraction list (联合招商) written to
//! a spreadsheet for the investment-promotion office.

use std::path::PathBuf;

use anyhow::Context;
use xietong_app::{Actor, App};
use xietong_domain::chain::GapRules;

use crate::DataArgs;

#[derive(Debug, clap::Args)]
pub struct ChainsArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Chain id (safety, aerospace, ai, medicine, manufacturing); every chain when not given.
    #[arg(long)]
    pub chain: Option<String>,
    /// A further region (GB/T 2260 code, e.g. 110106) counted beside the three provinces.
    #[arg(long)]
    pub district: Option<String>,
    /// Least local supply of a strong segment.
    #[arg(long, default_value_t = GapRules::default().strong_min_supply)]
    pub strong_min_supply: u64,
    /// Least supply per unit of local demand of a strong segment.
    #[arg(long, default_value_t = GapRules::default().strong_supply_per_demand)]
    pub strong_supply_per_demand: f64,
    /// Write the attraction list of this segment (with --chain and --region) instead.
    #[arg(long, requires_all = ["chain", "region"])]
    pub segment: Option<String>,
    /// The region to attract into (GB/T 2260).
    #[arg(long)]
    pub region: Option<String>,
    /// Output file of the attraction list (.xlsx or .csv); standard output (CSV) when not given.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: ChainsArgs) -> anyhow::Result<()> {
    let app = App::open(&args.data.data_dir()?).context("failed to open the data directory")?;
    let actor = Actor::operator();
    let rules =
        GapRules { strong_min_supply: args.strong_min_supply, strong_supply_per_demand: args.strong_supply_per_demand };
    if let (Some(chain), Some(segment), Some(region)) = (&args.chain, &args.segment, &args.region) {
        let list = app.attraction(&actor, chain, segment, region, rules, xietong_app::chain::MAX_ATTRACTION)?;
        let (headers, rows) = list.table();
        let xlsx = args.out.as_ref().and_then(|p| p.extension()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        let bytes = if xlsx {
            xietong_transfer::table_xlsx("联合招商", &headers, &rows)?
        } else {
            xietong_transfer::table_csv(&headers, &rows)
        };
        match &args.out {
            Some(path) => {
                std::fs::write(path, bytes).with_context(|| format!("failed to write {}", path.display()))?;
                eprintln!("{} candidates written to {}", list.candidates.len(), path.display());
            }
            None => std::io::Write::write_all(&mut std::io::stdout(), &bytes)?,
        }
        return Ok(());
    }
    let regions = app.chain_regions(args.district.as_deref())?;
    let records = match &args.chain {
        Some(id) => vec![app.chain(id)?],
        None => app.chains()?,
    };
    for view in app.chain_views(&actor, &records, &regions, rules)? {
        println!("{} {} ({})", view.id, view.name_zh, view.name_en);
        for segment in &view.segments {
            let cells: Vec<String> = segment
                .cells
                .iter()
                .map(|c| format!("{} 供{}/需{} {}", c.region_name, c.supply, c.demand, c.label.gap.label_zh()))
                .collect();
            println!(
                "  [{}] {} {}: {}",
                segment.segment.stage.label_zh(),
                segment.segment.id,
                segment.segment.name_zh,
                cells.join(" | ")
            );
        }
    }
    Ok(())
}
