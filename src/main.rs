//! Entry point: parse the command line, load the configuration, run; exit codes only.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser as _;

use centinela::app::Config;
use centinela::cli::{CatalogFormat, Cli, Command, RulesCommand};
use centinela::config::Sources;
use centinela::metrics::catalog;
use centinela::{app, collectors, telemetry};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    if let Command::Metrics { format } = command {
        let text = match format {
            CatalogFormat::Text => catalog::render_text(&collectors::catalog()),
            CatalogFormat::Markdown => catalog::render_markdown(&collectors::catalog()),
        };
        return print(&text);
    }
    if let Command::Rules { action } = command {
        return rules(action);
    }
    if let Command::Defaults = command {
        return print(&app::defaults());
    }

    let vars: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .collect();
    let stray = centinela::config::stray_variables(vars.iter().map(String::as_str));
    let web_config_file = cli.web_config_file.clone();
    let loaded = Config::load(&Sources::from_process(cli.config.clone()))
        .map(|mut config| {
            if web_config_file.is_some() {
                config.server.web_config_file = web_config_file;
            }
            config
        })
        .and_then(|config| app::plan(&config).map(|plan| (config, plan)));
    let (config, plan) = match loaded {
        Ok(c) => c,
        Err(problems) => {
            for w in &stray {
                eprintln!("warning: {w}");
            }
            for p in &problems {
                eprintln!("error: {p}");
            }
            eprintln!("configuration is invalid ({} problem(s))", problems.len());
            return ExitCode::FAILURE;
        }
    };
    if let Command::CheckConfig = command {
        let reach = plan.alerting.iter().flat_map(|a| a.warnings.iter());
        for w in stray.iter().chain(reach) {
            eprintln!("warning: {w}");
        }
        return print("configuration is valid\n");
    }

    telemetry::init(cli.log_format);
    for w in &stray {
        tracing::warn!("{w}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // Two workers are plenty for a sidecar, and keep its memory small.
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        match command {
            Command::Collect => match app::collect_once(&plan.collectors).await {
                Ok((text, failures)) => {
                    let code = print(&text);
                    for (collector, error) in &failures {
                        eprintln!("error: collector {collector} failed: {error}");
                    }
                    if failures.is_empty() {
                        code
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::FAILURE
                }
            },
            Command::Healthcheck { url } => {
                healthcheck(url, &config.server, plan.web.current().tls.is_some()).await
            }
            Command::NotifyTest { receiver, severity } => {
                match centinela::alerting::notify::send_test(&config.alerting, &receiver, &severity)
                    .await
                {
                    Ok((ok, failed)) => {
                        for l in &ok {
                            println!("{l}");
                        }
                        for l in &failed {
                            eprintln!("error: {l}");
                        }
                        if failed.is_empty() {
                            ExitCode::SUCCESS
                        } else {
                            ExitCode::FAILURE
                        }
                    }
                    Err(lines) => {
                        for l in lines {
                            eprintln!("error: {l}");
                        }
                        ExitCode::FAILURE
                    }
                }
            }
            _ => match app::start(&config, plan).await {
                Ok(running) => {
                    if running.until_signal().await {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::FAILURE
                    }
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "centinela could not start.");
                    ExitCode::FAILURE
                }
            },
        }
    });
    // A blocking thread still busy (a hung network mount's statvfs, a file read) must not
    // keep the process alive after it stopped: dropping the runtime would wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    code
}

fn print(text: &str) -> ExitCode {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`centinela metrics | head`) is not a failure worth a panic.
        Err(_) => ExitCode::FAILURE,
    }
}

/// Asks `/health` on the probe listener when there is one, else on the main listener
/// (over TLS when it serves TLS; the certificate is not checked on loopback).
async fn healthcheck(
    url: Option<String>,
    server: &centinela::config::ServerConfig,
    tls: bool,
) -> ExitCode {
    let loopback = url.is_none();
    let url = url.unwrap_or_else(|| {
        let (listen, scheme) = match &server.probe_listen {
            Some(probe) => (probe.as_str(), "http"),
            None if tls => (server.listen.as_str(), "https"),
            None => (server.listen.as_str(), "http"),
        };
        let port = listen.rsplit(':').next().unwrap_or("9432");
        format!("{scheme}://127.0.0.1:{port}/health")
    });
    let answer = reqwest::Client::builder()
        .danger_accept_invalid_certs(loopback)
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .map_err(|e| e.to_string());
    let answer = match answer {
        Ok(client) => client.get(&url).send().await.map_err(|e| {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                text = format!("{text}: {s}");
                source = s.source();
            }
            text
        }),
        Err(e) => Err(e),
    };
    match answer {
        Ok(r) if r.status().is_success() => ExitCode::SUCCESS,
        Ok(r) => {
            eprintln!("error: {url} answered {}", r.status());
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads and checks rule files (none: the built-in pack), printing every problem to
/// stderr; with `report`, one SUCCESS line per file on stdout. `None` if any failed.
fn checked_sources(files: &[PathBuf], report: bool) -> Option<Vec<(String, String)>> {
    use centinela::alerting::{rules::RuleSet, DEFAULT_RULES, DEFAULT_RULES_NAME};
    let sources: Vec<(String, Result<String, String>)> = if files.is_empty() {
        vec![(DEFAULT_RULES_NAME.to_owned(), Ok(DEFAULT_RULES.to_owned()))]
    } else {
        files
            .iter()
            .map(|f| {
                (
                    f.display().to_string(),
                    centinela::bounded::read_to_string(f, centinela::bounded::caps::RULES)
                        .map_err(|e| e.to_string()),
                )
            })
            .collect()
    };
    let mut ok = Vec::new();
    let mut failed = false;
    for (name, text) in sources {
        let result = text
            .map_err(|e| vec![format!("{name}: cannot read: {e}")])
            .and_then(|t| {
                RuleSet::parse(&name, &t)
                    .map(|set| (set, t))
                    .map_err(|p| p.iter().map(ToString::to_string).collect())
            });
        match result {
            Ok((set, text)) => {
                if report {
                    println!("{name}: SUCCESS: {} rules found", set.rules().count());
                    for w in centinela::alerting::reach::unexported(&set, true) {
                        eprintln!("warning: {name}: {w}");
                    }
                }
                ok.push((name, text));
            }
            Err(problems) => {
                failed = true;
                for p in problems {
                    eprintln!("error: {p}");
                }
                eprintln!("{name}: FAILED");
            }
        }
    }
    (!failed).then_some(ok)
}

fn rules(action: RulesCommand) -> ExitCode {
    use centinela::alerting::unittest;
    match action {
        RulesCommand::Check { files } => match checked_sources(&files, true) {
            Some(_) => ExitCode::SUCCESS,
            None => ExitCode::FAILURE,
        },
        RulesCommand::PrometheusRule {
            name,
            namespace,
            labels,
            files,
        } => {
            let Some(sources) = checked_sources(&files, false) else {
                return ExitCode::FAILURE;
            };
            match centinela::alerting::prometheus_rule(
                &name,
                namespace.as_deref(),
                &labels,
                &sources,
            ) {
                Ok(text) => {
                    print!("{text}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        RulesCommand::Test { files } => {
            let mut failed = false;
            for file in files {
                println!("Unit Testing: {}", file.display());
                match unittest::run_file(&file) {
                    Ok(report) if report.failures.is_empty() => {
                        println!("  SUCCESS ({} checks)", report.tests);
                    }
                    Ok(report) => {
                        failed = true;
                        println!("  FAILED:");
                        for f in report.failures {
                            println!("    {}", f.replace('\n', "\n    "));
                        }
                    }
                    Err(e) => {
                        failed = true;
                        println!("  FAILED:\n    {e}");
                    }
                }
            }
            if failed {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
