//! `template`, `import` and `export` subcommands (placeholder until the transfer crate lands).

use crate::DataArgs;

#[derive(Debug, clap::Args)]
pub struct TemplateArgs {
    pub kind: String,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    pub kind: String,
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    pub kind: String,
    #[command(flatten)]
    pub data: DataArgs,
}

pub fn template(_args: TemplateArgs) -> anyhow::Result<()> {
    anyhow::bail!("template is not built yet")
}

pub fn import(_args: ImportArgs) -> anyhow::Result<()> {
    anyhow::bail!("import is not built yet")
}

pub fn export(_args: ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("export is not built yet")
}
