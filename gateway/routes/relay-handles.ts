import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { RelayTierSchema, RelayUsernameSchema } from '../../actors/tunnel/index.js';
import { checkHandle, HandleError, registerHandle, releaseHandle, renameHandle, type HandleView } from '../../services/tunnel/relay-handles.js';
import type { TokenStore } from '../../services/tunnel/tokens.js';
import type { RoutePlugin } from '../context.js';
import { ApiError } from '../errors.js';
import { responds, type RouteResponses } from '../openapi.js';
import { zodRoute } from '../validation.js';

export interface RelayHandleRouteOptions {
  /** The token store tunnels with --relay use (relayTokenStore(home)). */
  tokens: TokenStore;
  /** The relay asked when a request names none (FLOW_RELAY_URL). */
  defaultRelay?: string;
}

const RelayUrlSchema = z
  .string()
  .refine((u) => URL.canParse(u), { error: 'relay must be a URL such as https://relay.example.test', abort: true })
  // canParse held above (abort), so new URL cannot throw here.
  .refine((u) => /^https?:$/.test(new URL(u).protocol), 'relay must be an http(s) URL');

export const HeldHandleSchema = z.object({ relay: z.string(), tier: RelayTierSchema, username: z.string() });
export const HeldHandleListSchema = z.object({
  handles: z.array(HeldHandleSchema),
  /** FLOW_RELAY_URL, what a request without `relay` asks (the dashboard prefills it). */
  defaultRelay: z.string().nullable(),
});

export const HandleCheckQuerySchema = z.object({
  relay: RelayUrlSchema.optional(),
  // Not the username rule: the relay's answer says which rule a name breaks.
  username: z.string().min(1, 'username must not be empty').max(100, 'username is longer than 100 characters'),
  tier: RelayTierSchema.default('premium'),
});

export const HandleAvailabilitySchema = z.discriminatedUnion('available', [
  z.object({ username: z.string(), tier: RelayTierSchema, available: z.literal(true) }),
  z.object({ username: z.string(), tier: RelayTierSchema, available: z.literal(false), reason: z.string(), message: z.string() }),
]);

export const HandleBodySchema = z.object({ relay: RelayUrlSchema.optional(), username: RelayUsernameSchema, tier: RelayTierSchema.default('premium') }).strict();
export const RenameHandleBodySchema = z
  .object({ relay: RelayUrlSchema.optional(), username: RelayUsernameSchema, tier: RelayTierSchema.default('premium'), newUsername: RelayUsernameSchema, newTier: RelayTierSchema.optional() })
  .strict();

/** A handle as the relay shows it; parsing keeps only these fields, so a token never gets through. */
// HandleView is the service's (zod-free, for `f relay handle`); `satisfies` keeps the two the same shape.
export const RelayHandleViewSchema = z.object({ username: z.string(), tier: RelayTierSchema, url: z.string(), tunnelUrl: z.string().nullable(), online: z.boolean() }) satisfies z.ZodType<HandleView>;
export const ReleasedHandleSchema = z.object({ released: z.literal(true), username: z.string(), tier: RelayTierSchema });

const RELAY_DOWN = { 502: 'the relay is unreachable, answered with an error of its own, or is not a Flow relay' };
const OWNED: RouteResponses = {
  403: 'this Flow holds no token for that handle, or the relay refused it (only the Flow that registered a handle may rename or release it); or the request was sent from a page this gateway did not serve',
};

/** What the relay's refusal means for a Flow client. */
function toApiError(err: unknown, relay: string): unknown {
  if (!(err instanceof HandleError)) return err;
  if (err.status === 400) return ApiError.invalid(err.message);
  if (err.status === 409) return ApiError.conflict(err.message);
  if (err.status === 429) return new ApiError(429, 'rate_limited', err.message);
  // A 401 on Flow's API means "log in to Flow" (the dashboard shows its login on one): a relay token that is missing or refused is a 403.
  if (err.status === 401 || err.status === 403) return ApiError.forbidden(err.message);
  if (err.status === null) return ApiError.badGateway(err.message);
  return ApiError.badGateway(`relay ${relay} answered ${err.status}: ${err.message}`);
}

/** The relay's answer in the shape promised, or a 502: whatever answered is no relay. */
function fromRelay<S extends z.ZodType>(schema: S, value: unknown, relay: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw ApiError.badGateway(`${relay} did not answer as a Flow relay does (is it one?)`);
  return r.data;
}

/**
 * /api/relay/handles: the handles this Flow holds on relays, and check, register, rename and
 * release as `f relay handle` does. The token stays in the token store (where tunnels started
 * with --relay find it); no answer carries one.
 */
export function relayHandleRoutePlugin(opts: RelayHandleRouteOptions): RoutePlugin {
  const defaultRelay = opts.defaultRelay?.trim() || undefined;
  // Judged once: the setting does not change while the gateway runs.
  const noDefault = !defaultRelay
    ? 'say which relay: pass "relay" (e.g. https://relay.example.test), or start Flow with FLOW_RELAY_URL set'
    : !RelayUrlSchema.safeParse(defaultRelay).success
      ? `FLOW_RELAY_URL is not an http(s) URL ("${defaultRelay}"): pass "relay"`
      : null;
  const relayOf = (given: string | undefined): string => {
    if (given) return given;
    if (noDefault !== null) throw ApiError.invalid(noDefault);
    return defaultRelay!;
  };
  const ask = async <S extends z.ZodType>(given: string | undefined, schema: S, call: (relay: string) => Promise<unknown>): Promise<z.output<S>> => {
    const relay = relayOf(given);
    try {
      return fromRelay(schema, await call(relay), relay);
    } catch (err) {
      throw toApiError(err, relay);
    }
  };

  return (app: FastifyInstance) => {
    app.route({
      method: 'GET',
      url: '/api/relay/handles',
      ...zodRoute({ response: HeldHandleListSchema }, () => ({ handles: opts.tokens.list(), defaultRelay: defaultRelay ?? null })),
    });

    app.route({
      method: 'GET',
      url: '/api/relay/handles/check',
      ...responds(
        { 200: 'whether the name is free; if not, why (taken, reserved, invalid)', 429: 'the relay limits requests from this Flow', ...RELAY_DOWN },
        zodRoute({ query: HandleCheckQuerySchema, response: HandleAvailabilitySchema }, ({ query }) => ask(query.relay, HandleAvailabilitySchema, (relay) => checkHandle(relay, query.username, query.tier))),
      ),
    });

    app.route({
      method: 'POST',
      url: '/api/relay/handles',
      ...responds(
        { 200: 'the handle, registered for this Flow (or already its own)', 409: 'the name is taken or reserved on that tier', 429: 'the relay limits registrations from this address', ...RELAY_DOWN },
        zodRoute({ body: HandleBodySchema, response: RelayHandleViewSchema }, ({ body }) => ask(body.relay, RelayHandleViewSchema, (relay) => registerHandle(relay, body.username, body.tier, opts.tokens))),
      ),
    });

    app.route({
      method: 'POST',
      url: '/api/relay/handles/rename',
      ...responds(
        { 200: 'the handle under its new name (same token; a running tunnel keeps the old name until restarted)', ...OWNED, 409: 'the new name is taken or reserved on that tier', ...RELAY_DOWN },
        zodRoute({ body: RenameHandleBodySchema, response: RelayHandleViewSchema }, ({ body }) =>
          ask(body.relay, RelayHandleViewSchema, (relay) => renameHandle(relay, { username: body.username, tier: body.tier }, { username: body.newUsername, tier: body.newTier ?? body.tier }, opts.tokens)),
        ),
      ),
    });

    app.route({
      method: 'POST',
      url: '/api/relay/handles/release',
      ...responds(
        { 200: 'the handle is given up and its token forgotten', ...OWNED, ...RELAY_DOWN },
        zodRoute({ body: HandleBodySchema, response: ReleasedHandleSchema }, ({ body }) => ask(body.relay, ReleasedHandleSchema, (relay) => releaseHandle(relay, body.username, body.tier, opts.tokens))),
      ),
    });
  };
}
