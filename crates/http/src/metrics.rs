//! Prometheus text metrics: requests by route and status, a latency histogram per route, and
//! listing counts read from the store at scrape time.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use parking_lot::Mutex;

const BUCKETS_S: [f64; 11] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

/// Request counters and latency histograms.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
}

impl Metrics {
    fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        *self.requests.lock().entry((method.to_string(), route.to_string(), status)).or_default() += 1;
        let mut latency = self.latency.lock();
        let histogram = latency.entry(route.to_string()).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS_S) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum_s += seconds;
    }

    /// Renders all metrics plus the given listing counts `(kind, status, count)`.
    pub fn render(&self, listing_counts: &[(String, String, u64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP xietong_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE xietong_http_requests_total counter\n");
        for ((method, route, status), count) in self.requests.lock().iter() {
            let _ = writeln!(
                out,
                "xietong_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP xietong_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE xietong_http_request_duration_seconds histogram\n");
        for (route, histogram) in self.latency.lock().iter() {
            for (bound, count) in BUCKETS_S.iter().zip(histogram.buckets) {
                let _ = writeln!(
                    out,
                    "xietong_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "xietong_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(out, "xietong_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", histogram.sum_s);
            let _ =
                writeln!(out, "xietong_http_request_duration_seconds_count{{route=\"{route}\"}} {}", histogram.count);
        }
        out.push_str("# HELP xietong_listings Listings in the store by kind and status.\n");
        out.push_str("# TYPE xietong_listings gauge\n");
        for (kind, status, count) in listing_counts {
            let _ = writeln!(out, "xietong_listings{{kind=\"{kind}\",status=\"{status}\"}} {count}");
        }
        out
    }
}

/// Middleware recording each request under its route template (never the raw path, so ids do
/// not explode the label set).
pub async fn track(State(metrics): State<std::sync::Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(request).await;
    metrics.record(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
