//! The `--slurm-*` flags of `pipe run` as clap parses them, handed to the
//! interpreter as `pipe_interp::slurm::config::SlurmArgs` (which validates them
//! into a `SlurmConfig`). Owns the flags' names, defaults and help text only.

use pipe_interp::slurm::config::SlurmArgs;

#[derive(clap::Args, Debug, Clone)]
pub struct SlurmFlags {
    /// Slurm partition (`sbatch --partition`); default: the cluster's default.
    #[arg(long = "slurm-partition", value_name = "NAME")]
    pub partition: Option<String>,
    /// CPUs per array task (`sbatch --cpus-per-task`).
    #[arg(long = "slurm-cpus", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
    /// Memory per array task (`sbatch --mem`, e.g. `4G`).
    #[arg(long = "slurm-mem", value_name = "SIZE")]
    pub mem: Option<String>,
    /// Time limit per array task (`sbatch --time`, e.g. `30:00`).
    #[arg(long = "slurm-time", value_name = "TIME")]
    pub time: Option<String>,
    /// An extra `sbatch` option for every task, as one word (`--gres=gpu:1`); repeatable.
    #[arg(long = "slurm-opt", value_name = "OPTION", allow_hyphen_values = true)]
    pub opts: Vec<String>,
    /// An extra `sbatch` option for the nodes of one stage: `STAGE:OPTION`
    /// (`train.supervised:--gres=gpu:1`); repeatable.
    #[arg(
        long = "slurm-stage-opt",
        value_name = "STAGE:OPTION",
        allow_hyphen_values = true
    )]
    pub stage_opts: Vec<String>,
    /// Times a task that ended without a result is resubmitted before its nodes fail.
    #[arg(long = "slurm-retries", value_name = "N", default_value_t = 2)]
    pub retries: u32,
    /// Nodes one array task runs, one after another. Default: packed so each
    /// task runs about a minute, by the times recorded for each stage in this
    /// cache or its cost class; nodes that may take long run alone.
    #[arg(long = "slurm-group", value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub group: Option<u32>,
    /// Seconds between two `squeue` calls (one call covers every job).
    #[arg(long = "slurm-poll", value_name = "SECONDS", default_value_t = 2.0)]
    pub poll: f64,
    /// Most tasks in one job array (keep under the cluster's `MaxArraySize`).
    #[arg(long = "slurm-array-max", value_name = "N", default_value_t = 1000,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub array_max: u32,
}

impl SlurmFlags {
    pub fn to_args(&self) -> SlurmArgs {
        SlurmArgs {
            partition: self.partition.clone(),
            cpus: self.cpus,
            mem: self.mem.clone(),
            time: self.time.clone(),
            opts: self.opts.clone(),
            stage_opts: self.stage_opts.clone(),
            retries: self.retries,
            group: self.group,
            poll: self.poll,
            array_max: self.array_max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use pipe_interp::slurm::config::{ConfigError, SlurmConfig};
    use pipe_interp::slurm::group::Grouping;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        slurm: SlurmFlags,
    }

    fn config(args: &[&str]) -> Result<SlurmConfig, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("pipe").chain(args.iter().copied()))
            .map_err(|e| ConfigError::Opt(e.to_string()))?;
        SlurmConfig::from_args(&cli.slurm.to_args())
    }

    #[test]
    fn flags_become_sbatch_options_per_stage() {
        let c = config(&[
            "--slurm-partition",
            "gpu",
            "--slurm-cpus",
            "4",
            "--slurm-mem",
            "8G",
            "--slurm-time",
            "1:00:00",
            "--slurm-opt",
            "--qos=low",
            "--slurm-stage-opt",
            "train.supervised:--gres=gpu:1",
        ])
        .unwrap();
        let base = [
            "--partition=gpu",
            "--cpus-per-task=4",
            "--mem=8G",
            "--time=1:00:00",
            "--qos=low",
        ];
        assert_eq!(c.options_for("sim.thermal"), base);
        assert_eq!(
            c.options_for("train.supervised").last().unwrap(),
            "--gres=gpu:1"
        );
        assert_eq!(c.retries, 2);
        assert_eq!(c.group, Grouping::Auto);
        let fixed = config(&["--slurm-group", "7"]).unwrap();
        assert_eq!(fixed.group, Grouping::Fixed(7));
    }

    #[test]
    fn bad_flags_are_refused_with_the_expected_form() {
        assert_eq!(
            config(&["--slurm-stage-opt", "nocolon"]).unwrap_err(),
            ConfigError::StageOpt("nocolon".into())
        );
        assert_eq!(
            config(&["--slurm-opt", "qos"]).unwrap_err(),
            ConfigError::Opt("qos".into())
        );
        assert_eq!(
            config(&["--slurm-poll", "0"]).unwrap_err(),
            ConfigError::Poll(0.0)
        );
        assert!(config(&["--slurm-group", "0"]).is_err());
    }
}
