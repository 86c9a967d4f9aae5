//! The admin at `/admin`: sign-in, first-run setup, the editor, terms, users, settings, jobs.
//! Every state-changing form carries the session's CSRF token; sign-in forms carry a
//! double-submit token from a cookie, since there is no session yet.

use crate::auth::{self, local_path, login_csrf, with_cookie, CurrentUser};
use crate::error::WebError;
use crate::render::{iso, post_path};
use crate::routes::media;
use crate::site::{body_parts, DraftFields, PostDraft, Settings};
use crate::{AppState, SharedState};
use axum::extract::{ConnectInfo, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use colloquy_core::post::MAX_BODY_BYTES;
use colloquy_core::user::{parse_display_name, NewAccount};
use colloquy_core::{Invalid, PostKind, Role, Slug};
use colloquy_store::{NewUser, PostPatch, StoreError};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Page slugs that would hide a part of the site.
pub const RESERVED_PAGE_SLUGS: &[&str] = &[
    "admin",
    "api",
    "feed",
    "tag",
    "category",
    "author",
    "search",
    "static",
    "uploads",
    "avatar",
    "page",
    "comments",
    "debates",
    "healthz",
    "metrics",
    "wp-admin",
    "wp-login",
    "xmlrpc",
    "webmention",
    "account",
    "sign-in",
    "sign-out",
    "register",
    "verify",
    "password",
    "people",
];

pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::to("/admin/") }))
        .route("/admin/", get(dashboard))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/setup", get(setup_form).post(setup))
        .route("/admin/posts", get(posts_list))
        .route("/admin/posts/new", get(new_post_form).post(create_post))
        .route(
            "/admin/posts/{id}/edit",
            get(edit_post_form).post(save_post),
        )
        .route("/admin/posts/{id}/delete", post(delete_post))
        .route("/admin/preview", post(preview))
        .route("/admin/terms/{taxonomy}", get(terms_page).post(save_term))
        .route("/admin/terms/{taxonomy}/{id}/delete", post(delete_term))
        .route("/admin/users", get(users_page).post(add_user))
        .route("/admin/users/{id}", get(user_form).post(save_user))
        .route("/admin/settings", get(settings_form).post(save_settings))
        .route("/admin/jobs", get(jobs_page))
        .route("/admin/reblog", get(super::linkbacks::reblog_draft))
}

/// Renders an admin template with what every admin page needs.
pub(crate) fn page(
    state: &AppState,
    me: Option<&CurrentUser>,
    template: &str,
    status: StatusCode,
    ctx: minijinja::Value,
) -> Result<Response, WebError> {
    let common = minijinja::context! {
        site => state.settings(),
        me => me.map(|m| minijinja::context! { name => m.user.name, role => m.role.as_str(), id => m.user.id,
            can_edit_others => m.role.can_edit_others(), can_administer => m.role.can_administer(),
            moderator => m.role == Role::Moderator || m.role.can_edit_others() }),
        csrf => me.map(|m| m.csrf.clone()),
        pending_thoughts => state.pending_thoughts.load(std::sync::atomic::Ordering::Relaxed),
    };
    let html = state
        .templates
        .render(template, minijinja::context! { ..common, ..ctx })?;
    let mut res = (status, Html(html)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, "no-store".parse().expect("ascii"));
    Ok(res)
}

pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<CurrentUser, Response> {
    match auth::current_user(state, headers).await {
        Some(u) if u.role.can_write() || u.role == Role::Moderator => {
            // The menu shows how many thoughts wait; every admin page passes through here.
            if let Ok(counts) = state.store.thought_counts().await {
                let pending = counts
                    .iter()
                    .find(|(s, _)| s == "pending")
                    .map(|c| c.1)
                    .unwrap_or(0);
                state
                    .pending_thoughts
                    .store(pending, std::sync::atomic::Ordering::Relaxed);
            }
            Ok(u)
        }
        Some(_) => Err(WebError::Forbidden(
            "the admin is for authors, editors, moderators and admins".into(),
        )
        .into_response()),
        None => Err(Redirect::to("/admin/login").into_response()),
    }
}

#[macro_export]
macro_rules! me_or_return {
    ($state:expr, $headers:expr) => {
        match signed_in(&$state, &$headers).await {
            Ok(u) => u,
            Err(r) => return Ok(r),
        }
    };
}

async fn dashboard(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let (recent, total) = state.store.all_posts("post", 10, 0).await?;
    let jobs = state.store.job_stats().await?;
    let rows = admin_rows(&state, &recent);
    page(
        &state,
        Some(&me),
        "admin/dashboard.html",
        StatusCode::OK,
        minijinja::context! { posts => rows, total, jobs },
    )
}

fn admin_rows(state: &AppState, rows: &[colloquy_store::PostRow]) -> Vec<minijinja::Value> {
    let tz = state.settings().tz();
    rows.iter()
        .map(|p| {
            minijinja::context! {
                id => p.id, title => p.title, status => p.status, kind => p.kind, author => p.author_name,
                when => p.publish_at.map(|t| crate::render::human_date(t, &tz)),
                updated => crate::render::human_date(p.updated_at, &tz),
                url => post_path(&p.kind, &p.slug, p.publish_at, &tz),
            }
        })
        .collect()
}

// ---- sign-in -------------------------------------------------------------------------

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
    csrf: String,
    /// Where to go after signing in (a path on this site, e.g. a debate room).
    next: Option<String>,
}

#[derive(Deserialize, Default)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(state): State<SharedState>,
    Query(q): Query<NextQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let next = local_path(q.next.as_deref());
    if auth::current_user(&state, &headers).await.is_some() {
        return Ok(Redirect::to(next.as_deref().unwrap_or("/admin/")).into_response());
    }
    let (token, cookie) = login_csrf(&state, &headers);
    let res = page(
        &state,
        None,
        "admin/login.html",
        StatusCode::OK,
        minijinja::context! { login_csrf => token, next },
    )?;
    Ok(with_cookie(res, cookie))
}

async fn login(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "sign-in form")?;
    let user = match super::accounts::check_password(&state, &headers, peer, &f.email, &f.password)
        .await?
    {
        Ok(u) => u,
        Err(super::accounts::Refusal::Slowed(wait)) => {
            return super::accounts::slowed(&state, wait).await
        }
        Err(super::accounts::Refusal::Wrong) => {
            let (token, _) = login_csrf(&state, &headers);
            return page(
                &state,
                None,
                "admin/login.html",
                StatusCode::UNAUTHORIZED,
                minijinja::context! { login_csrf => token, error => "That email and password do not match an account.", email => f.email, next => local_path(f.next.as_deref()) },
            );
        }
    };
    // Members have no admin to go to: they return to the site, signed in.
    let next = local_path(f.next.as_deref());
    let to = match &next {
        Some(n) => n.as_str(),
        None if user.role == "member" => "/",
        None => "/admin/",
    };
    auth::start_session(&state, &headers, peer, user.id, to).await
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

async fn logout(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    auth::end_session(&state, &headers, &f.csrf, "/admin/login").await
}

// ---- first run -----------------------------------------------------------------------

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

async fn setup_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, WebError> {
    let token = q.token.unwrap_or_default();
    if state.store.count_admins().await? > 0
        || !state
            .store
            .setup_token_valid(&auth::hash_token(&token))
            .await?
    {
        return Err(WebError::NotFound);
    }
    let (csrf, cookie) = login_csrf(&state, &headers);
    let res = page(
        &state,
        None,
        "admin/setup.html",
        StatusCode::OK,
        minijinja::context! { login_csrf => csrf, token },
    )?;
    Ok(with_cookie(res, cookie))
}

#[derive(Deserialize)]
struct SetupForm {
    token: String,
    csrf: String,
    name: String,
    email: String,
    password: String,
    site_title: Option<String>,
}

async fn setup(
    State(state): State<SharedState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<SetupForm>,
) -> Result<Response, WebError> {
    auth::check_login_csrf(&state, &headers, &f.csrf, "setup form")?;
    let account = match NewAccount::parse(&f.email, &f.name, Role::Admin.as_str(), &f.password) {
        Ok(a) => a,
        Err(e) => {
            return page(
                &state,
                None,
                "admin/setup.html",
                StatusCode::UNPROCESSABLE_ENTITY,
                minijinja::context! { login_csrf => f.csrf, token => f.token, error => e.message, name => f.name, email => f.email, site_title => f.site_title },
            )
        }
    };
    let hash = auth::hash_password(&f.password)?;
    let id = state
        .store
        .complete_setup(
            &auth::hash_token(&f.token),
            NewUser {
                email: account.email.as_str(),
                name: &account.name,
                slug: account.slug.as_str(),
                role: account.role.as_str(),
                password_hash: Some(&hash),
                bio_markdown: "",
                bio_html: "",
            },
        )
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                WebError::Forbidden("this setup link was already used or has expired".into())
            }
            e => e.into(),
        })?;
    if let Some(t) = f
        .site_title
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let mut s = (*state.settings()).clone();
        s.title = t.chars().take(200).collect();
        s.save(&state.store).await?;
    }
    state.content_changed().await;
    auth::start_session(&state, &headers, peer, id, "/admin/").await
}

// ---- posts and pages -----------------------------------------------------------------

#[derive(Deserialize)]
struct KindQuery {
    kind: Option<String>,
    page: Option<String>,
}

async fn posts_list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<KindQuery>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let kind = PostKind::parse(q.kind.as_deref().unwrap_or("post"))?;
    let pg = q
        .page
        .as_deref()
        .map(colloquy_core::Page::parse)
        .transpose()?
        .unwrap_or(colloquy_core::Page::FIRST);
    let (rows, total) = state
        .store
        .all_posts(kind.as_str(), 50, pg.offset(50))
        .await?;
    let rows = admin_rows(&state, &rows);
    let pages = ((total + 49) / 50).max(1);
    page(
        &state,
        Some(&me),
        "admin/posts.html",
        StatusCode::OK,
        minijinja::context! { posts => rows, kind => kind.as_str(), total, page => pg.number(), pages },
    )
}

/// What the editor shows: a post being written, with the values last entered.
#[derive(Default, serde::Serialize)]
struct EditorValues {
    id: Option<i64>,
    kind: String,
    title: String,
    slug: String,
    body_markdown: String,
    tags: String,
    categories: String,
    status: String,
    publish_at_local: String,
    featured_image: Option<String>,
    url: Option<String>,
    /// What became of the Webmentions and Pingbacks sent for this post's links.
    linkbacks: Vec<colloquy_store::LinkbackSend>,
}

fn editor(
    state: &AppState,
    me: &CurrentUser,
    v: EditorValues,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let tz = state.settings().timezone.clone();
    page(
        state,
        Some(me),
        "admin/editor.html",
        status,
        minijinja::context! { post => v, error, timezone => tz },
    )
}

async fn new_post_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(q): Query<KindQuery>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_write())?;
    let kind = PostKind::parse(q.kind.as_deref().unwrap_or("post"))?;
    editor(
        &state,
        &me,
        EditorValues {
            kind: kind.as_str().into(),
            status: "draft".into(),
            ..Default::default()
        },
        None,
        StatusCode::OK,
    )
}

/// The editor with a new draft already written (a reblog of another page).
pub(crate) fn prefilled_editor(
    state: &AppState,
    me: &CurrentUser,
    title: String,
    body_markdown: String,
) -> Result<Response, WebError> {
    editor(
        state,
        me,
        EditorValues {
            kind: "post".into(),
            status: "draft".into(),
            title,
            body_markdown,
            ..Default::default()
        },
        None,
        StatusCode::OK,
    )
}

async fn edit_post_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let p = state.store.post_by_id(id).await?;
    me.require(me.role.can_edit_others() || (me.role.can_write() && p.author_id == me.user.id))?;
    let terms = state
        .store
        .terms_of_posts(&[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let join = |tax: &str| {
        terms
            .iter()
            .filter(|t| t.taxonomy == tax)
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tz = state.settings().tz();
    let v = EditorValues {
        id: Some(p.id),
        kind: p.kind.clone(),
        title: p.title.clone(),
        slug: p.slug.clone(),
        body_markdown: p.body_markdown.clone(),
        tags: join("tag"),
        categories: join("category"),
        status: p.status.clone(),
        publish_at_local: p
            .publish_at
            .map(|t| to_local_input(t, &tz))
            .unwrap_or_default(),
        featured_image: p.featured_image.clone(),
        url: (p.status == "published").then(|| post_path(&p.kind, &p.slug, p.publish_at, &tz)),
        linkbacks: state.store.sends_of(p.id).await?,
    };
    editor(&state, &me, v, None, StatusCode::OK)
}

fn to_local_input(ts: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(ts)
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%dT%H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

/// Reads a `datetime-local` value ("2026-11-25T20:00") as a time in the site's zone.
fn from_local_input(s: &str, tz: &jiff::tz::TimeZone) -> Result<i64, Invalid> {
    let dt: jiff::civil::DateTime = s.trim().parse().map_err(|_| {
        Invalid::new(
            "publish_at",
            "the publish time must look like 2026-11-25T20:00",
        )
    })?;
    dt.to_zoned(tz.clone())
        .map(|z| z.timestamp().as_second())
        .map_err(|_| {
            Invalid::new(
                "publish_at",
                "this time does not exist in the site's time zone",
            )
        })
}

/// Collects a multipart form: text fields, and the bytes of the one file field allowed.
pub(crate) async fn read_form(
    mut mp: Multipart,
    file_field: &str,
) -> Result<(HashMap<String, String>, Option<Vec<u8>>), WebError> {
    let mut fields = HashMap::new();
    let mut file = None;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| WebError::BadRequest(format!("the form could not be read: {e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        if name == file_field {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| WebError::BadRequest(format!("the upload could not be read: {e}")))?;
            if !bytes.is_empty() {
                file = Some(bytes.to_vec());
            }
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| WebError::BadRequest(format!("the form could not be read: {e}")))?;
            fields.insert(name, text);
        }
    }
    Ok((fields, file))
}

fn split_terms(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn create_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_write())?;
    let (f, file) = read_form(mp, "featured_image").await?;
    me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or(""))?;
    state.allow_new_post(me.user.id)?;
    save_from_form(&state, &me, None, f, file).await
}

async fn save_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let (f, file) = read_form(mp, "featured_image").await?;
    me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or(""))?;
    let p = state.store.post_by_id(id).await?;
    me.require(me.role.can_edit_others() || (me.role.can_write() && p.author_id == me.user.id))?;
    save_from_form(&state, &me, Some(p), f, file).await
}

async fn save_from_form(
    state: &SharedState,
    me: &CurrentUser,
    existing: Option<colloquy_store::PostRow>,
    f: HashMap<String, String>,
    file: Option<Vec<u8>>,
) -> Result<Response, WebError> {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let tz = state.settings().tz();
    let kind_s = existing
        .as_ref()
        .map(|p| p.kind.clone())
        .unwrap_or_else(|| get("kind"));
    let mut values = EditorValues {
        id: existing.as_ref().map(|p| p.id),
        kind: if kind_s.is_empty() {
            "post".into()
        } else {
            kind_s.clone()
        },
        title: get("title"),
        slug: get("slug"),
        body_markdown: get("body_markdown"),
        tags: get("tags"),
        categories: get("categories"),
        status: get("status"),
        publish_at_local: get("publish_at"),
        featured_image: existing.as_ref().and_then(|p| p.featured_image.clone()),
        url: None,
        linkbacks: vec![],
    };
    let featured = match file {
        Some(data) => match media::save_image(state, &data).await {
            Ok(name) => Some(name),
            Err(WebError::Invalid(e)) => {
                return editor(
                    state,
                    me,
                    values,
                    Some(e.message),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
            }
            Err(WebError::TooLarge) => {
                return editor(
                    state,
                    me,
                    values,
                    Some("the image is larger than 5 MB".into()),
                    StatusCode::PAYLOAD_TOO_LARGE,
                )
            }
            Err(e) => return Err(e),
        },
        None => None,
    };
    let checked = (|| -> Result<PostDraft, Invalid> {
        let status_wanted = values.status.as_str();
        if status_wanted != "draft"
            && !status_wanted.is_empty()
            && !f.contains_key("confirm_sensitive")
        {
            let found = colloquy_core::confidentiality::scan(&values.body_markdown);
            if !found.is_empty() {
                let mut kinds: Vec<&str> = found.iter().map(|x| x.kind.describe()).collect();
                kinds.dedup();
                return Err(Invalid::new(
                    "body_markdown",
                    format!(
                        "the text may identify someone ({}: “{}”); edit it, or tick “Publish anyway” to confirm it is safe",
                        kinds.join(", "),
                        found[0].text
                    ),
                ));
            }
        }
        let at = if values.publish_at_local.trim().is_empty() {
            None
        } else {
            Some(from_local_input(&values.publish_at_local, &tz)?)
        };
        let draft = PostDraft::parse(&DraftFields {
            kind: &values.kind,
            title: &values.title,
            slug: Some(values.slug.as_str()),
            body_markdown: &values.body_markdown,
            status: &values.status,
            publish_at: at,
            tags: &split_terms(&values.tags),
            categories: &split_terms(&values.categories),
        })?;
        if draft.kind == PostKind::Page && !me.role.can_edit_others() {
            return Err(Invalid::new("kind", "only editors and admins manage pages"));
        }
        Ok(draft)
    })();
    let draft = match checked {
        Ok(v) => v,
        Err(e) => {
            if featured.is_some() {
                values.featured_image = featured;
            }
            return editor(
                state,
                me,
                values,
                Some(e.message),
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let result = match &existing {
        None => {
            state
                .store
                .create_post(draft.into_new_post(
                    values.body_markdown.clone(),
                    me.user.id,
                    featured,
                ))
                .await
        }
        Some(p) => {
            let (html, plain, excerpt) = body_parts(&values.body_markdown);
            let patch = PostPatch {
                title: Some(draft.title.as_str().into()),
                slug: Some(if draft.slug_derived {
                    p.slug.clone()
                } else {
                    draft.slug.as_str().into()
                }),
                body: Some((values.body_markdown.clone(), html, plain, excerpt)),
                status: Some(draft.status.as_str().into()),
                publish_at: Some(draft.publish_at),
                featured_image: featured.map(Some),
                tags: Some(draft.tags),
                categories: Some(draft.categories),
            };
            state.store.update_post(p.id, patch).await.map(|_| p.id)
        }
    };
    match result {
        Ok(id) => {
            state.content_changed().await;
            if existing.is_some() {
                super::after_edit(state, id).await?;
            }
            Ok(Redirect::to(&format!("/admin/posts/{id}/edit?saved=1")).into_response())
        }
        Err(StoreError::Conflict(m)) => editor(state, me, values, Some(m), StatusCode::CONFLICT),
        Err(e) => Err(e.into()),
    }
}

async fn delete_post(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    let p = state.store.post_by_id(id).await?;
    me.require(me.role.can_edit_others() || (me.role.can_write() && p.author_id == me.user.id))?;
    super::delete_post_and_tell(&state, &p).await?;
    Ok(Redirect::to(&format!("/admin/posts?kind={}", p.kind)).into_response())
}

#[derive(Deserialize)]
struct PreviewBody {
    markdown: String,
}

/// The editor's live preview: the same renderer and sanitiser as the published page.
async fn preview(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Json(b): Json<PreviewBody>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    me.check_csrf(token)?;
    if b.markdown.len() > MAX_BODY_BYTES {
        return Err(WebError::TooLarge);
    }
    let findings: Vec<serde_json::Value> = colloquy_core::confidentiality::scan(&b.markdown)
        .iter()
        .map(|f| serde_json::json!({ "what": f.kind.describe(), "text": f.text }))
        .collect();
    Ok(Json(serde_json::json!({
        "html": colloquy_core::markdown::render(&b.markdown),
        "findings": findings,
    }))
    .into_response())
}

// ---- tags and categories -------------------------------------------------------------

fn taxonomy(s: &str) -> Result<&'static str, WebError> {
    match s {
        "tag" => Ok("tag"),
        "category" => Ok("category"),
        _ => Err(WebError::NotFound),
    }
}

async fn terms_view(
    state: &AppState,
    me: &CurrentUser,
    tax: &str,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let terms = state.store.terms(tax).await?;
    page(
        state,
        Some(me),
        "admin/terms.html",
        status,
        minijinja::context! { taxonomy => tax, terms, error },
    )
}

async fn terms_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(tax): Path<String>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let tax = taxonomy(&tax)?;
    terms_view(&state, &me, tax, None, StatusCode::OK).await
}

#[derive(Deserialize)]
struct TermForm {
    csrf: String,
    id: Option<String>,
    name: String,
    slug: Option<String>,
    description: Option<String>,
    parent_id: Option<String>,
}

async fn save_term(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(tax): Path<String>,
    Form(f): Form<TermForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_edit_others())?;
    let tax = taxonomy(&tax)?;
    let checked = (|| -> Result<_, Invalid> {
        let name = colloquy_core::post::parse_term_name("name", &f.name)?;
        let slug = match f.slug.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) => Slug::parse(s)?,
            None => Slug::from_title(&name)?,
        };
        let description = f.description.clone().unwrap_or_default();
        if description.chars().count() > 2000 {
            return Err(Invalid::new(
                "description",
                "the description is longer than 2,000 characters",
            ));
        }
        let id =
            f.id.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| s.parse::<i64>().map_err(|_| Invalid::new("id", "bad id")))
                .transpose()?;
        let parent = f
            .parent_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<i64>()
                    .map_err(|_| Invalid::new("parent_id", "bad parent"))
            })
            .transpose()?;
        Ok((
            id,
            name,
            slug,
            description,
            if tax == "category" { parent } else { None },
        ))
    })();
    let (id, name, slug, description, parent) = match checked {
        Ok(v) => v,
        Err(e) => {
            return terms_view(
                &state,
                &me,
                tax,
                Some(e.message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    match state
        .store
        .save_term(id, tax, &name, slug.as_str(), &description, parent)
        .await
    {
        Ok(_) => {
            state.content_changed().await;
            Ok(Redirect::to(&format!("/admin/terms/{tax}")).into_response())
        }
        Err(StoreError::Conflict(m)) => {
            terms_view(&state, &me, tax, Some(m), StatusCode::CONFLICT).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete_term(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path((tax, id)): Path<(String, i64)>,
    Form(f): Form<CsrfOnly>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_edit_others())?;
    let tax = taxonomy(&tax)?;
    state.store.delete_term(id).await?;
    state.content_changed().await;
    Ok(Redirect::to(&format!("/admin/terms/{tax}")).into_response())
}

// ---- users ---------------------------------------------------------------------------

async fn users_view(
    state: &AppState,
    me: &CurrentUser,
    error: Option<String>,
    status: StatusCode,
) -> Result<Response, WebError> {
    let users = state.store.list_users().await?;
    page(
        state,
        Some(me),
        "admin/users.html",
        status,
        minijinja::context! { users, error },
    )
}

#[derive(Deserialize, Default)]
struct UsersQuery {
    invited: Option<String>,
}

async fn users_page(
    State(state): State<SharedState>,
    Query(q): Query<UsersQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    let users = state.store.list_users().await?;
    page(
        &state,
        Some(&me),
        "admin/users.html",
        StatusCode::OK,
        minijinja::context! { users, invited => q.invited },
    )
}

#[derive(Deserialize)]
struct AddUserForm {
    csrf: String,
    name: String,
    email: String,
    role: String,
    password: String,
}

async fn add_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<AddUserForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_administer())?;
    let account = match NewAccount::parse(&f.email, &f.name, &f.role, &f.password) {
        Ok(a) => a,
        Err(e) => {
            return users_view(
                &state,
                &me,
                Some(e.message),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    match auth::create_password_account(&state.store, &account, &f.password).await {
        Ok(_) => {
            state.content_changed().await;
            Ok(Redirect::to("/admin/users").into_response())
        }
        Err(WebError::Conflict(m)) => users_view(&state, &me, Some(m), StatusCode::CONFLICT).await,
        Err(e) => Err(e),
    }
}

async fn user_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer() || me.user.id == id)?;
    let user = state.store.user_by_id(id).await?;
    page(
        &state,
        Some(&me),
        "admin/user_edit.html",
        StatusCode::OK,
        minijinja::context! { user, avatar => crate::render::avatar_url(&user.slug, user.avatar_file.as_deref()) },
    )
}

async fn save_user(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    let (f, file) = read_form(mp, "avatar").await?;
    me.check_csrf(f.get("csrf").map(String::as_str).unwrap_or(""))?;
    me.require(me.role.can_administer() || me.user.id == id)?;
    let user = state.store.user_by_id(id).await?;
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let checked = (|| -> Result<_, Invalid> {
        let name = parse_display_name(&get("name"))?;
        // Only admins change roles; nobody demotes the account they are using.
        let role = if me.role.can_administer() && me.user.id != id {
            Role::parse(&get("role"))?
        } else {
            Role::parse(&user.role)?
        };
        let bio = get("bio_markdown");
        if bio.chars().count() > 5000 {
            return Err(Invalid::new(
                "bio_markdown",
                "the bio is longer than 5,000 characters",
            ));
        }
        Ok((name, role, bio))
    })();
    let fail = |msg: String, status| {
        page(
            &state,
            Some(&me),
            "admin/user_edit.html",
            status,
            minijinja::context! { user => &user, error => msg, avatar => crate::render::avatar_url(&user.slug, user.avatar_file.as_deref()) },
        )
    };
    let (name, role, bio) = match checked {
        Ok(v) => v,
        Err(e) => return fail(e.message, StatusCode::UNPROCESSABLE_ENTITY),
    };
    if let Some(data) = file {
        match media::save_image(&state, &data).await {
            Ok(name) => state.store.set_user_avatar(id, &name).await?,
            Err(WebError::Invalid(e)) => return fail(e.message, StatusCode::UNPROCESSABLE_ENTITY),
            Err(e) => return Err(e),
        }
    }
    state
        .store
        .update_user_profile(
            id,
            &name,
            role.as_str(),
            &bio,
            &colloquy_core::markdown::render(&bio),
        )
        .await?;
    state.content_changed().await;
    Ok(Redirect::to(&format!("/admin/users/{id}?saved=1")).into_response())
}

// ---- settings and jobs ---------------------------------------------------------------

async fn settings_form(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    page(
        &state,
        Some(&me),
        "admin/settings.html",
        StatusCode::OK,
        minijinja::context! { values => state.settings() },
    )
}

#[derive(Deserialize, serde::Serialize)]
struct SettingsForm {
    csrf: String,
    title: String,
    tagline: String,
    description: String,
    timezone: String,
    language: String,
    posts_per_page: String,
    #[serde(default)]
    registration: String,
}

async fn save_settings(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Form(f): Form<SettingsForm>,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.check_csrf(&f.csrf)?;
    me.require(me.role.can_administer())?;
    match Settings::parse(
        &f.title,
        &f.tagline,
        &f.description,
        &f.timezone,
        &f.language,
        &f.posts_per_page,
    )
    .and_then(|mut s| {
        s.registration = if f.registration.is_empty() {
            state.settings().registration
        } else {
            colloquy_core::account::RegistrationPolicy::parse(&f.registration)?
        };
        Ok(s)
    }) {
        Ok(s) => {
            s.save(&state.store).await?;
            state.content_changed().await;
            Ok(Redirect::to("/admin/settings?saved=1").into_response())
        }
        Err(e) => page(
            &state,
            Some(&me),
            "admin/settings.html",
            StatusCode::UNPROCESSABLE_ENTITY,
            minijinja::context! { values => f, error => e.message, field => e.field },
        ),
    }
}

async fn jobs_page(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let me = me_or_return!(state, headers);
    me.require(me.role.can_administer())?;
    let stats = state.store.job_stats().await?;
    let dead: Vec<_> = state.store.dead_jobs().await?.into_iter().map(|j| minijinja::context! { id => j.id, kind => j.kind, attempts => j.attempts, last_error => j.last_error, run_at => iso(j.run_at) }).collect();
    page(
        &state,
        Some(&me),
        "admin/jobs.html",
        StatusCode::OK,
        minijinja::context! { stats, dead },
    )
}
