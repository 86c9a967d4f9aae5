// A real OpenID Connect provider (oidc-provider) for Colloquy's tests, on loopback only.
// NOT for production: every email "signs in" without a password, and the token
// endpoint can be told to misbehave. See README.md beside this file.
//
//   node tests/oidc/provider.mjs --port 0 --clients clients.json
//   (or OIDC_PORT / OIDC_ISSUER / OIDC_CLIENTS in the environment)

import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import * as jose from 'jose';
import Provider, { interactionPolicy } from 'oidc-provider';

// ---------------------------------------------------------------- options

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    issuer: { type: 'string' },
    clients: { type: 'string' },
  },
});
const port = Number(args.port ?? process.env.OIDC_PORT ?? 0);
const clientsArg = args.clients ?? process.env.OIDC_CLIENTS;
if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`bad port ${args.port ?? process.env.OIDC_PORT}`);
if (!clientsArg) fail('--clients FILE (or OIDC_CLIENTS) is required');

// The file holds [{client_id, client_secret, redirect_uris}]; inline JSON is accepted too.
const clients = JSON.parse(clientsArg.trimStart().startsWith('[') ? clientsArg : readFileSync(clientsArg, 'utf8'))
  .map(({ client_id, client_secret, redirect_uris }) => ({
    client_id,
    client_secret,
    redirect_uris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    // oidc-provider accepts client_secret_post too for a client registered as _basic.
    token_endpoint_auth_method: 'client_secret_basic',
  }));

function fail(message) {
  console.error(`oidc provider: ${message}`);
  process.exit(2);
}

// ---------------------------------------------------------------- keys

// Generated at start-up: tests fetch the JWKS, so nothing needs to be stable across runs.
// `otherKey` signs the bad_signature tokens; it is never published.
async function rsaKey() {
  const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
  return jose.exportJWK(privateKey);
}
const signingJwk = await rsaKey();
signingJwk.kid = await jose.calculateJwkThumbprint(signingJwk);
Object.assign(signingJwk, { alg: 'RS256', use: 'sig' });
const signingKey = await jose.importJWK(signingJwk, 'RS256');
const otherKey = await jose.importJWK(await rsaKey(), 'RS256');

// ---------------------------------------------------------------- accounts

// Any email is a user. The subject is derived from the email so tests can predict it:
// sub = first 32 hex digits of sha256(trimmed, lowercased email).
const accounts = new Map(); // sub -> email, filled at sign-in
const normalizeEmail = (email) => String(email ?? '').trim().toLowerCase();
const isEmail = (email) => /^[^@\s]+@[^@\s]+$/.test(email);
const subFor = (email) => createHash('sha256').update(normalizeEmail(email)).digest('hex').slice(0, 32);

function remember(email) {
  const normalized = normalizeEmail(email);
  const sub = subFor(normalized);
  accounts.set(sub, normalized);
  return sub;
}

async function findAccount(ctx, sub) {
  const email = accounts.get(sub);
  if (!email) return undefined;
  return {
    accountId: sub,
    async claims() {
      return {
        sub,
        email,
        email_verified: !email.startsWith('unverified'),
        name: email.split('@')[0],
      };
    },
  };
}

// ---------------------------------------------------------------- policy

// By default an existing provider session wins over login_hint, so a test client that
// signs in as a@x and then asks for login_hint=b@x would silently get a@x again.
// Asking for login when the hint names someone else makes the hint authoritative.
const { Check, base } = interactionPolicy;
const policy = base();
policy.get('login').checks.add(new Check(
  'login_hint_mismatch',
  'login_hint names a different End-User than the current session',
  (ctx) => {
    const hint = normalizeEmail(ctx.oidc.params.login_hint);
    const current = ctx.oidc.session.accountId;
    return Boolean(isEmail(hint) && current && current !== subFor(hint));
  },
));

// ---------------------------------------------------------------- provider

function createProvider(issuer) {
  return new Provider(issuer, {
    clients,
    jwks: { keys: [signingJwk] },
    findAccount,
    // Only what the relying party under test uses, so discovery advertises nothing else.
    responseTypes: ['code'],
    scopes: ['openid'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // Put the scope claims into the ID token as well as userinfo, so a relying party can
    // read email/name straight from the verified ID token (spec default: userinfo only).
    conformIdTokenClaims: false,
    pkce: { methods: ['S256'], required: () => true },
    features: {
      devInteractions: { enabled: false }, // replaced by the routes below
      resourceIndicators: { enabled: false }, // access tokens are for userinfo only
    },
    interactions: {
      policy,
      // Absolute, so a test client following redirects by hand needs no URL joining.
      url: (ctx, interaction) => `${ctx.oidc.issuer}/interaction/${interaction.uid}`,
    },
    cookies: {
      keys: [randomBytes(32).toString('base64url')],
      // Cookies are per host, not per port: prefixed names cannot collide with the
      // relying party's own cookies on 127.0.0.1.
      names: { session: 'op_session', interaction: 'op_interaction', resume: 'op_interaction_resume' },
      // The session cookie defaults to SameSite=None, which browsers drop without Secure
      // (plain http here) and which makes oidc-provider send a second ".legacy" copy.
      // Every request that needs it is a top-level GET redirect, so Lax is enough.
      long: { httpOnly: true, sameSite: 'lax' },
    },
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><dl>${Object.entries(out)
        .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`);
    },
  });
}

// ---------------------------------------------------------------- HTML

const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title, body) {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title></head>
<body><main>${body}</main></body>
</html>
`;
}

function loginForm(uid, clientId, error) {
  return page('Sign in', `<h1>Sign in to ${esc(clientId)}</h1>
${error ? `<p role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="email" required autofocus>
  <button type="submit">Sign in</button>
</form>`);
}

// ---------------------------------------------------------------- interactions

async function readBody(ctx, limit = 16 * 1024) {
  let body = '';
  for await (const chunk of ctx.req) {
    body += chunk;
    if (body.length > limit) ctx.throw(413, 'body too large');
  }
  return body;
}

// Finishes the interaction for `email` (or for the session's user when only consent is
// missing): logs in, grants every requested scope, and redirects to the provider's resume
// URL, which in turn redirects to the client with code and state.
async function finish(provider, ctx, interaction, email) {
  const { prompt, params, session } = interaction;
  const result = {};
  let accountId = session?.accountId;
  let { grantId } = interaction;

  if (prompt.name === 'login') {
    accountId = remember(email);
    if (session?.accountId && session.accountId !== accountId) {
      // Switching user: drop the old session here instead of letting oidc-provider show
      // its "sign out first?" page, which a test client cannot get through.
      await (await provider.Session.findByUid(session.uid))?.destroy();
      interaction.session = undefined;
      await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
      grantId = undefined;
    }
    result.login = { accountId };
  }

  const grant = (grantId && await provider.Grant.find(grantId))
    || new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const missingClaims = prompt.details?.missingOIDCClaims;
  if (missingClaims) grant.addOIDCClaims(missingClaims);
  result.consent = { grantId: await grant.save() };

  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

function interactionRoutes(provider) {
  return async (ctx, next) => {
    const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(ctx.path);
    if (!match) return next();
    ctx.set('Cache-Control', 'no-store');
    try {
      const interaction = await provider.interactionDetails(ctx.req, ctx.res);
      if (interaction.uid !== match[1]) ctx.throw(400, 'interaction cookie does not match URL');
      const clientId = interaction.params.client_id;

      if (ctx.method === 'GET' && !match[2]) {
        if (interaction.prompt.name !== 'login') return await finish(provider, ctx, interaction);
        const hint = normalizeEmail(interaction.params.login_hint);
        if (isEmail(hint)) return await finish(provider, ctx, interaction, hint);
        ctx.type = 'html';
        ctx.body = loginForm(interaction.uid, clientId);
        return undefined;
      }
      if (ctx.method === 'POST' && match[2]) {
        const email = normalizeEmail(new URLSearchParams(await readBody(ctx)).get('email'));
        if (isEmail(email)) return await finish(provider, ctx, interaction, email);
        ctx.status = 400;
        ctx.type = 'html';
        ctx.body = loginForm(interaction.uid, clientId, 'Enter an email address.');
        return undefined;
      }
      ctx.throw(405);
    } catch (err) {
      // Typically SessionNotFound: the interaction cookie is missing or expired.
      ctx.status = err.status || err.statusCode || 500;
      ctx.type = 'html';
      ctx.body = page('Sign-in error', `<h1>Sign-in error</h1><p>${esc(err.error_description || err.message)}</p>`);
    }
    return undefined;
  };
}

// ---------------------------------------------------------------- misbehaviour

const MODES = ['normal', 'bad_signature', 'wrong_audience', 'expired', 'wrong_nonce',
  'wrong_issuer', 'no_id_token', 'alg_none'];
let mode = 'normal';

function modeRoute() {
  return async (ctx, next) => {
    if (ctx.path !== '/__test/mode') return next();
    if (ctx.method === 'POST') {
      let wanted;
      try {
        ({ mode: wanted } = JSON.parse(await readBody(ctx)));
      } catch {
        wanted = undefined;
      }
      if (!MODES.includes(wanted)) {
        ctx.status = 400;
        ctx.body = { error: `mode must be one of ${MODES.join(', ')}` };
        return undefined;
      }
      mode = wanted;
    } else if (ctx.method !== 'GET') {
      ctx.throw(405);
    }
    ctx.body = { mode };
    return undefined;
  };
}

const b64json = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function tamper(idToken, how, issuer) {
  const header = jose.decodeProtectedHeader(idToken);
  const claims = jose.decodeJwt(idToken);
  const now = Math.floor(Date.now() / 1000);
  const sign = (payload, key = signingKey) => new jose.CompactSign(Buffer.from(JSON.stringify(payload)))
    .setProtectedHeader(header).sign(key);
  switch (how) {
    case 'bad_signature': return sign(claims, otherKey); // same kid, unpublished key
    case 'wrong_audience': return sign({ ...claims, aud: 'someone-else' });
    case 'expired': return sign({ ...claims, iat: now - 7200, exp: now - 3600 });
    case 'wrong_nonce': return sign({ ...claims, nonce: 'not-the-nonce-you-sent' });
    case 'wrong_issuer': return sign({ ...claims, iss: `${issuer}/not-this-issuer` });
    case 'alg_none': return `${b64json({ alg: 'none', typ: header.typ ?? 'JWT' })}.${b64json(claims)}.`;
    default: throw new Error(`no tampering for ${how}`);
  }
}

// Runs around oidc-provider's own token endpoint and rewrites one successful response.
// The access token is left alone, so userinfo keeps working.
function tokenTamperer(provider) {
  return async (ctx, next) => {
    await next();
    if (ctx.method !== 'POST' || ctx.path !== '/token' || ctx.status !== 200 || mode === 'normal') return;
    const how = mode;
    mode = 'normal'; // one-shot
    const { id_token: idToken, ...rest } = ctx.body;
    if (how === 'no_id_token' || !idToken) {
      ctx.body = rest;
    } else {
      ctx.body = { ...rest, id_token: await tamper(idToken, how, provider.issuer) };
    }
  };
}

// ---------------------------------------------------------------- server

// Listen first so that --port 0 can pick a free port and the issuer can name it.
const server = createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(port, '127.0.0.1', resolve);
});
const actualPort = server.address().port;
const issuer = args.issuer ?? process.env.OIDC_ISSUER ?? `http://127.0.0.1:${actualPort}`;

const provider = createProvider(issuer);
provider.use(modeRoute());
provider.use(interactionRoutes(provider));
provider.use(tokenTamperer(provider));
server.on('request', provider.callback());

console.log(`oidc provider ready on ${issuer}`);

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
