//! The dashboard figures of each read scope, cached per index state and recounted in the
//! background: shared by the API overview and the web dashboard.

use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;
use xietong_app::App;
use xietong_app::stats::{ScopedFigures, scoped_figures};
use xietong_domain::ReadScope;

use crate::error::ApiResult;
use crate::state::AppState;

/// Read scopes whose figures are kept at once (visitors, each organisation's members, …).
const CACHED_SCOPES: usize = 32;

/// Figures of one app and read scope at one index state.
struct CachedFigures {
    /// Held weakly: while the entry exists, no other app can get the same address.
    app: Weak<App>,
    scope_key: String,
    seq: u64,
    figures: Arc<ScopedFigures>,
    /// A background recount is under way.
    refreshing: bool,
    used_at: Instant,
}

static CACHE: Mutex<Vec<CachedFigures>> = Mutex::new(Vec::new());

/// The figures of `scope` for the current index state. Every write syncs the index, so a new
/// sequence number means the figures may have changed; the previous figures are then served while
/// new ones are counted in the background, so no request waits on the recount. Only the first
/// request of a scope counts inline. At most 32 scopes are kept, least recently
/// used first out.
pub async fn figures(state: &AppState, scope: &ReadScope) -> ApiResult<Arc<ScopedFigures>> {
    let seq = state.app.catalogue_version();
    let scope_key = scope.cache_key();
    let stale = {
        let mut cache = CACHE.lock();
        cache.retain(|entry| entry.app.strong_count() > 0);
        let found = cache
            .iter_mut()
            .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(&state.app)) && entry.scope_key == scope_key);
        match found {
            Some(entry) => {
                entry.used_at = Instant::now();
                if entry.seq == seq {
                    return Ok(entry.figures.clone());
                }
                let start_refresh = !entry.refreshing;
                entry.refreshing = true;
                Some((entry.figures.clone(), start_refresh))
            }
            None => None,
        }
    };
    let Some((figures, start_refresh)) = stale else {
        let counting_scope = scope.clone();
        let figures = Arc::new(state.blocking(move |app| Ok(scoped_figures(app, &counting_scope)?)).await?);
        remember(&state.app, scope_key, seq, figures.clone());
        return Ok(figures);
    };
    if start_refresh {
        let app = state.app.clone();
        let counting_scope = scope.clone();
        tokio::task::spawn_blocking(move || match scoped_figures(&app, &counting_scope) {
            Ok(fresh) => remember(&app, scope_key, seq, Arc::new(fresh)),
            Err(error) => {
                tracing::error!(?error, "failed to refresh the dashboard figures");
                let mut cache = CACHE.lock();
                let found = cache
                    .iter_mut()
                    .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(&app)) && entry.scope_key == scope_key);
                if let Some(entry) = found {
                    entry.refreshing = false;
                }
            }
        });
    }
    Ok(figures)
}

fn remember(app: &Arc<App>, scope_key: String, seq: u64, figures: Arc<ScopedFigures>) {
    let mut cache = CACHE.lock();
    let found = cache
        .iter_mut()
        .find(|entry| std::ptr::eq(entry.app.as_ptr(), Arc::as_ptr(app)) && entry.scope_key == scope_key);
    if let Some(entry) = found {
        if seq >= entry.seq {
            entry.seq = seq;
            entry.figures = figures;
        }
        entry.refreshing = false;
        return;
    }
    if cache.len() >= CACHED_SCOPES {
        let oldest = cache.iter().enumerate().min_by_key(|(_, entry)| entry.used_at).map(|(index, _)| index);
        if let Some(index) = oldest {
            cache.swap_remove(index);
        }
    }
    cache.push(CachedFigures {
        app: Arc::downgrade(app),
        scope_key,
        seq,
        figures,
        refreshing: false,
        used_at: Instant::now(),
    });
}
