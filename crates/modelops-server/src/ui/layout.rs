//! The page shell every UI page shares: head (embedded CSS and JS), the top navigation and the footer, plus small
//! shared fragments (stage badges, key/value tables, pagination).

use maud::{DOCTYPE, Markup, html};
use modelops_tracking::registry::Stage;

/// Which top-navigation entry is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nav {
    /// Experiments, runs, compare.
    Experiments,
    /// Registered models.
    Models,
    /// Monitoring.
    Monitoring,
    /// None (login, error pages).
    None,
}

/// A whole HTML page. `logout_csrf` is the CSRF token for the logout button, shown only when login is on.
pub fn page(title: &str, nav: Nav, logout_csrf: Option<&str>, body: Markup) -> Markup {
    let item = |target: Nav, href: &str, label: &str| {
        html! {
            a href=(href) class=@if nav == target { "current" } { (label) }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · modelops" }
                link rel="stylesheet" href="/ui/assets/ui.css";
                script src="/ui/assets/ui.js" {}
            }
            body {
                header.topbar {
                    a.brand href="/" { span.logo { "◆" } " modelops" }
                    nav {
                        (item(Nav::Experiments, "/experiments", "Experiments"))
                        (item(Nav::Models, "/models", "Models"))
                        (item(Nav::Monitoring, "/monitoring", "Monitoring"))
                    }
                    @if let Some(token) = logout_csrf {
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf_token" value=(token);
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
                footer { "modelops " (env!("CARGO_PKG_VERSION")) " · MLflow REST API at " code { "/api/2.0/mlflow/" } }
            }
        }
    }
}

/// A coloured badge for a registry stage.
pub fn stage_badge(stage: Stage) -> Markup {
    let class = match stage {
        Stage::None => "badge stage-none",
        Stage::Staging => "badge stage-staging",
        Stage::Production => "badge stage-production",
        Stage::Archived => "badge stage-archived",
    };
    html! { span class=(class) { (stage.as_str()) } }
}

/// A coloured badge for a run status.
pub fn status_badge(status: &str) -> Markup {
    let class = format!("badge status-{}", status.to_ascii_lowercase());
    html! { span class=(class) { (status) } }
}

/// A two-column key/value table (sticky header), or a muted line when empty.
pub fn key_value_table<'a>(
    heading: (&str, &str),
    rows: impl IntoIterator<Item = (&'a str, Markup)>,
    empty: &str,
) -> Markup {
    let rows: Vec<(&str, Markup)> = rows.into_iter().collect();
    html! {
        @if rows.is_empty() {
            p.muted { (empty) }
        } @else {
            div.table-wrap {
                table.kv {
                    thead { tr { th { (heading.0) } th { (heading.1) } } }
                    tbody {
                        @for (k, v) in rows {
                            tr { td.key { (k) } td { (v) } }
                        }
                    }
                }
            }
        }
    }
}

/// "Page N" navigation: previous/next links built by `link(page)`.
pub fn pager(page: i64, has_next: bool, link: impl Fn(i64) -> String) -> Markup {
    html! {
        nav.pager {
            @if page > 1 {
                a href=(link(1)) { "« First" }
                a href=(link(page - 1)) { "‹ Previous" }
            }
            span { "Page " (page) }
            @if has_next {
                a href=(link(page + 1)) { "Next ›" }
            }
        }
    }
}
