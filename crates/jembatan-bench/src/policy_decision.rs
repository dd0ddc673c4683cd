//! How long one policy decision takes: the engine alone, as the policy layer calls it for every
//! request, cycling through every principal kind × action × purpose × legal basis, so that
//! allows, denials by default and denials by a forbid are all in the mix. Each query carries the
//! time it is made, as the policy layer's do.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jembatan_domain::{LegalBasis, Purpose};
use jembatan_pki::PrincipalKind;
use jembatan_policy::{Engine, Policies, Query};
use time::OffsetDateTime;

/// Arguments of `policy-decision`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Decisions to time.
    #[arg(long, default_value_t = 200_000)]
    iterations: usize,
    /// The policy folder.
    #[arg(long, default_value = "deploy/policies")]
    dir: PathBuf,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<()> {
    let policies = Policies::load_dir(&args.dir)?;
    let policy_count = policies.origins().len();
    let actions: Vec<String> = policies
        .action_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let engine = Engine::new(policies)?;
    let principals = [
        agency("kemendag", "export-portal"),
        agency("kp2mi", "siskop2mi"),
        agency("bappenas", "sipd"),
        PrincipalKind::Auditor {
            office: "inspectorate".into(),
        },
    ];
    let mut queries = Vec::new();
    for principal in &principals {
        for action in &actions {
            for purpose in Purpose::ALL {
                for legal_basis in LegalBasis::ALL {
                    queries.push(Query {
                        principal,
                        action,
                        purpose,
                        legal_basis,
                        time: OffsetDateTime::UNIX_EPOCH,
                    });
                }
            }
        }
    }

    // Warm up caches and the allocator on one pass over the matrix.
    let mut allowed = 0usize;
    for query in &queries {
        let query = Query {
            time: OffsetDateTime::now_utc(),
            ..*query
        };
        allowed += usize::from(engine.decide(&query)?.allowed);
    }
    let mut samples = Vec::with_capacity(args.iterations);
    let started = Instant::now();
    for query in queries.iter().cycle().take(args.iterations) {
        let start = Instant::now();
        let query = Query {
            time: OffsetDateTime::now_utc(),
            ..*query
        };
        let decision = engine.decide(&query)?;
        samples.push(start.elapsed());
        std::hint::black_box(decision);
    }
    let wall = started.elapsed();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    let mean = wall / u32::try_from(samples.len().max(1))?;
    println!(
        "policy decision: {policy_count} policies, {} distinct queries ({allowed} allowed), \
         {} decisions on one thread",
        queries.len(),
        samples.len()
    );
    println!("| mean | p50 | p90 | p99 | max | decisions/s (one core) |");
    println!("|---|---|---|---|---|---|");
    println!(
        "| {} | {} | {} | {} | {} | {:.0} |",
        micros(mean),
        micros(at(0.50)),
        micros(at(0.90)),
        micros(at(0.99)),
        micros(at(1.0)),
        samples.len() as f64 / wall.as_secs_f64()
    );
    Ok(())
}

fn agency(agency: &str, system: &str) -> PrincipalKind {
    PrincipalKind::Agency {
        agency: agency.into(),
        system: system.into(),
    }
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}
