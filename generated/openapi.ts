// Generated from openapi.yaml by `npm run generate`. Do not edit.

export interface paths {
    "/api/token/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Log in and obtain an access and a refresh token */
        post: operations["obtainToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/token/refresh/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Exchange a refresh token for a new token pair
         * @description Refresh tokens rotate: the answer carries a new refresh token and the one sent is retired.
         *     Sending a retired refresh token again is taken as theft: it is refused (401), every refresh
         *     token rotated from the same login is retired, and the user's access tokens issued until now
         *     stop working within 2 seconds, as on logout. The user's other sessions get new access
         *     tokens by refreshing.
         */
        post: operations["refreshToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/token/revoke/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log out by retiring a refresh token
         * @description Retires the refresh token and every token rotated from the same login. The user's access
         *     tokens issued until now stop working within 2 seconds; other sessions get new ones by
         *     refreshing.
         */
        post: operations["revokeToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/register/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Create a user account
         * @description Names are trimmed and unique regardless of case. Passwords follow NIST SP 800-63B:
         *     8 to 128 characters (the schema says so), and three rules a schema cannot express, each
         *     refused with a 400 whose `errors` entry has its `code`: not only digits
         *     (`entirely-numeric`), not too similar to the name (`too-similar-to-name`), not a common
         *     password (`too-common`). A name already taken, in any case, is `name-taken`.
         *
         *     A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        post: operations["registerUser"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/user/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List users (admins only) */
        get: operations["listUsers"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/user/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
                 */
                id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        /** Read a user (the user themself or an admin) */
        get: operations["getUser"];
        /**
         * Change a user (only the fields sent)
         * @description A user may change their own name and password (the latter needs `current_password`).
         *     Only an admin may set `is_admin`; admins may change any user without the current password.
         *     A new password follows the rules of registration, including those a schema cannot express
         *     (400 with `errors[].code` `entirely-numeric`, `too-similar-to-name` or `too-common`).
         *     Changing a password ends the user's refresh tokens, and within 2 s their access tokens.
         *
         *     A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        put: operations["updateUser"];
        post?: never;
        /**
         * Delete a user (the user themself or an admin)
         * @description The user's orders stay as history, no longer linked to an account.
         */
        delete: operations["deleteUser"];
        options?: never;
        head?: never;
        /**
         * Change a user partially
         * @description Same as PUT, which also changes only the fields sent.
         *
         *     A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        patch: operations["patchUser"];
        trace?: never;
    };
    "/api/product/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List products, filtered, sorted and paginated
         * @description **Pages.** Without `cursor`, pages are chosen by `limit` and `offset` and `next`/`previous`
         *     carry offsets, exactly as the reference's clients expect. Send `cursor=` (empty) to ask for
         *     cursor pages instead: the page `offset` selects (the first by default) comes back with
         *     `next`/`previous` links that carry an opaque `cursor` (a position in the ordering, plus the
         *     filter and ordering it belongs to). A page reached through a cursor costs the same however
         *     deep it is, and a walk never repeats or skips a product, even while products are added or
         *     removed. A cursor is only valid with the filter and ordering it was made for: changing
         *     `keyword`, `min_price`, `max_price` or `ordering` while following one is a `400` problem
         *     (`errors[0].code` `cursor-mismatch`), and so is a cursor that is not one this service wrote
         *     (`invalid-cursor`), or a non-empty cursor sent together with `offset` (`offset-with-cursor`).
         *
         *     **Rules between parameters** (a parameter's schema cannot state them; each is a `400` with
         *     the `errors[0].code` named, see the 400 examples): `offset-with-cursor` as above;
         *     `conflicts-with-keyword`, `keyword` and the deprecated `keywords` sent with different values.
         *
         *     **Order.** `ordering` sorts by `id` (the default), `name` (ignoring case), `price` or
         *     `created_at`; a leading `-` reverses it. Ties (equal prices or creation times) are broken by
         *     `id` in the same direction, so pages never overlap.
         *
         *     **Conditional reads.** Every page has an `ETag`; send it back in `If-None-Match` to get `304`
         *     without a body while the page (its products, count and links) is unchanged.
         */
        get: operations["listProducts"];
        put?: never;
        /**
         * Add a product (admins only)
         * @description A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        post: operations["createProduct"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/product/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The product's id.
                 * @example 1
                 */
                id: components["parameters"]["ProductId"];
            };
            cookie?: never;
        };
        /**
         * Read a product
         * @description The answer has an `ETag` that changes with every change of the product (by an admin, an
         *     order or a cancellation); send it back in `If-None-Match` to get `304` without a body while
         *     the product is unchanged, or in `If-Match` to make a write conditional.
         */
        get: operations["getProduct"];
        /**
         * Change a product (admins only; only the fields sent)
         * @description The reference's clients send only the fields they change, so PUT behaves like PATCH.
         *     With `If-Match` (the `ETag` of the product as you read it) the change is made only if
         *     nobody changed the product since, else `412`: an absolute `stock` written from a stale read
         *     would undo the orders taken in between. `If-Match` is optional, so the reference's clients
         *     keep working; to add or remove units without reading first, PATCH `stock_delta`.
         *
         *     A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        put: operations["updateProduct"];
        post?: never;
        /**
         * Remove a product from the catalogue (admins only)
         * @description Orders already placed keep the product's name and unit price. With `If-Match`, only the
         *     product as you read it is removed (else `412`).
         */
        delete: operations["deleteProduct"];
        options?: never;
        head?: never;
        /**
         * Change a product partially (admins only)
         * @description `stock_delta` adds (or, negative, removes) units in one atomic step that cannot undo a
         *     concurrent order's decrement: `{"stock_delta": 10}` restocks ten. A change that would take
         *     the stock below 0 (or above 2147483647) is a `409` problem and changes nothing; `stock` and
         *     `stock_delta` together are a `400`. `If-Match` works as for PUT.
         *
         *     A name that looks like another one (letters of several scripts mixed, invisible or
         *     direction-changing characters, a letter with a plainer form such as fullwidth `ａ`) is a
         *     `400` with `errors[].code` `confusable`.
         */
        patch: operations["patchProduct"];
        trace?: never;
    };
    "/api/order/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List the caller's orders, newest first; admins list and filter every order
         * @description **Without `user_id`, `status`, `created_after`, `created_before` and `cursor`** the answer is
         *     the caller's own orders, admins included, newest id first, in pages chosen by `limit` and
         *     `offset` whose `next`/`previous` links carry offsets: exactly as the reference's clients expect.
         *
         *     **With any of them** the list is the back office's: for an admin every customer's orders,
         *     for anyone else their own orders only. It is sorted newest first (`created_at`, then `id`,
         *     both descending) and paged by cursor: `next`/`previous` links carry an opaque `cursor` (a
         *     position in the list plus the filter it belongs to), so a page costs the same however deep
         *     it is and a walk never repeats or skips an order, even while orders are placed. Send
         *     `cursor=` (empty) to start from the newest order without any filter. `count` is how many
         *     orders match the filter in all; counting is the costly part of a page over many orders, so a
         *     count is reused for up to 5 seconds (it may lag behind changes made through another
         *     replica of the service for that long).
         *
         *     * `user_id`: only this customer's orders. A caller who is not an admin may send their own
         *       id (the same as not sending it); anyone else's id answers `403` (`forbidden`).
         *     * `status`: only orders in one of these states; repeat it for several
         *       (`?status=created&status=fulfilled`).
         *     * `created_after` / `created_before`: RFC 3339 date-times with a time zone; orders placed at
         *       or after `created_after` and strictly before `created_before` (so consecutive ranges tile).
         *       `created_before` must be later than `created_after` (else `400`, `errors[0].code`
         *       `empty-range`).
         *
         *     Bad values are `400` problems naming the parameter: an id that is not a UUID, an unknown
         *     status, a date-time that does not exist (`2024-02-30T00:00:00Z`), is before year 1 or has a
         *     leap second; an empty range; `offset` together with any of these parameters
         *     (`offset-with-cursor`: follow the links instead). A cursor is only valid with the filter it
         *     was made for: changing a filter while following one answers `400` (`errors[0].code`
         *     `cursor-mismatch`), and a cursor that is not one this service wrote answers `400`
         *     (`invalid-cursor`).
         */
        get: operations["listOrders"];
        put?: never;
        /**
         * Place an order; stock is taken for every line or for none
         * @description All lines are checked and taken in one transaction. If any product lacks stock, nothing
         *     is written and the problem's `errors` name each short product with what was asked and
         *     what is available. Send an `Idempotency-Key` to retry safely: the same key with the same
         *     body answers the first order again for 24 hours.
         *
         *     A 503 with code `order-outcome-unknown` means the database did not confirm the order's
         *     commit (it stopped answering, or the connection was lost under it, as in a failover): the
         *     order may have been placed. Its detail names the order's id: once the service answers
         *     again (`Retry-After`), `GET /api/order/{id}` tells (404: not placed); or resend with the
         *     same `Idempotency-Key`. A 503 `service-unavailable` or `overloaded` always means nothing was written.
         *
         *     A product listed twice is a `400` (`errors[].code` `duplicate-product`, one per repeated
         *     line): JSON Schema's `uniqueItems` compares whole lines, not their `id`s, so the schema
         *     cannot say it. Add the quantities into one line instead.
         *
         *     On a new database there are no products yet: create one first (`POST /api/product/` as
         *     `admin`; its example makes product 1 with 100 in stock), then this example orders 2 of it.
         */
        post: operations["createOrder"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/order/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read one of the caller's orders (admins may read any) */
        get: operations["getOrder"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/order/{id}/cancel": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Cancel an order and put its lines back in stock
         * @description The caller may cancel their own order while it is `created`; an admin may cancel anyone's.
         *     In one transaction the order becomes `cancelled` (with `cancelled_at`) and each line's
         *     quantity goes back to its product's stock, locking the products in id order as placing an
         *     order does. It happens once: a repeated or concurrent cancel of the same order changes
         *     nothing and answers `409` (`order-already-cancelled`). A fulfilled order cannot be cancelled
         *     (its goods have left): `409` (`order-already-fulfilled`); of a cancel and a fulfilment of the
         *     same order at the same time exactly one happens, the other answers `409`. A line whose product has been deleted
         *     since is not restocked (there is no product to put it back on); the line stays in the order.
         *     When a product's stock has been raised since so far that putting a line back would take it
         *     above 2147483647 (the most `stock` holds), the cancel answers `409` (`stock-out-of-range`,
         *     naming each such product) and changes nothing, the order stays `created`: lower that stock
         *     (e.g. `PATCH` with a negative `stock_delta`) and cancel again.
         *     Someone else's order answers `404`, as when reading it. An `Idempotency-Key` retry of the
         *     original order still answers the order as first placed.
         */
        post: operations["cancelOrder"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/order/{id}/fulfil": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Mark an order fulfilled (admins only)
         * @description Moves an order from `created` to `fulfilled` and sets `fulfilled_at`; stock is not touched
         *     (it was taken when the order was placed). Send no body. A fulfilled order cannot be
         *     cancelled any more. It happens once: fulfilling an order again answers `409`
         *     (`order-already-fulfilled`), and a cancelled order cannot be fulfilled (`409`,
         *     `order-already-cancelled`). Of a fulfilment and a cancel of the same order at the same time
         *     exactly one happens; the other answers `409`, and stock goes back only if the cancel won.
         *     A caller who is not an admin gets `403`; an unknown order `404`.
         */
        post: operations["fulfilOrder"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/event/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Read the event stream (admins only)
         * @description Every `order.created`, `order.cancelled`, `order.fulfilled`, `product.created`,
         *     `product.updated` and `product.deleted`, each written in the same transaction as its change
         *     (a change that was rolled back, such as an order refused for stock, has none; a committed
         *     one always has one), oldest first, for `EVENT_RETENTION_DAYS` (7 by default).
         *
         *     **Order.** Events come in a fixed order that never changes once an event is listed: no event
         *     ever appears before one you have already read, so a reader that follows `next` sees each
         *     event exactly once. Events of one resource (an order's `created` then its `cancelled`) come
         *     in the order they happened. An event is listed once every transaction that started before
         *     its own on the database server has ended (usually within milliseconds; a long transaction
         *     delays the stream, it never reorders it).
         *
         *     **Paging.** Follow `next` to continue; at the end of the stream `next` still points after
         *     the last event, so polling it later returns what was added since (`has_more` is `false`).
         *     Keep the last `cursor` to resume after a restart. Without `after` the stream starts at its
         *     oldest retained event. `type` keeps only events of these types (repeat it for several); a
         *     cursor is a position in the whole stream, valid with any `type` filter.
         */
        get: operations["listEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhook/": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List webhook endpoints (admins only) */
        get: operations["listWebhooks"];
        put?: never;
        /**
         * Register a webhook endpoint (admins only)
         * @description Events of the listed types that happen from now on are sent to `url` as Standard Webhooks
         *     (see the guide docs/guides/events-and-webhooks.md): a `POST` of `{type, timestamp, data}`
         *     signed with the `secret` answered here, once; keep it, it is not shown again. In production
         *     the URL must be `https` and must not point to a loopback, private or link-local address
         *     (`errors[0].code` `url-not-allowed`).
         */
        post: operations["createWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhook/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read a webhook endpoint (admins only) */
        get: operations["getWebhook"];
        put?: never;
        post?: never;
        /** Remove a webhook endpoint and its delivery log (admins only) */
        delete: operations["deleteWebhook"];
        options?: never;
        head?: never;
        /**
         * Change a webhook endpoint (admins only)
         * @description Change its URL or event types, or disable (`enabled: false`) and enable it again. Deliveries
         *     pending while it is disabled wait, and are sent once it is enabled again; events that happen
         *     while it is disabled are not queued for it (read them from `GET /api/event/`).
         *
         *     An endpoint URL this service may not call (see `createWebhook`) is a `400` with
         *     `errors[].code` `url-not-allowed`.
         */
        patch: operations["updateWebhook"];
        trace?: never;
    };
    "/api/webhook/{id}/rotate-secret": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Give a webhook endpoint a new signing secret (admins only)
         * @description Answers the new secret, once. Until `previous_secret_expires_at` (the service's
         *     `WEBHOOK_SECRET_OVERLAP_MS`, a day by default) every delivery carries two signatures in
         *     `webhook-signature`, one per secret, so the receiver can switch to the new secret at any time
         *     in between; then only the new one.
         */
        post: operations["rotateWebhookSecret"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhook/{id}/test": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a test event to a webhook endpoint (admins only)
         * @description Queues one `webhook.test` event for this endpoint only, whatever its event types, signed and
         *     retried like any other; its `data` is `{id, url}` of the endpoint. Follow it in the delivery log.
         *     Test events are not in `GET /api/event/`.
         */
        post: operations["sendTestWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhook/{id}/deliveries": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The delivery log of a webhook endpoint, newest first (admins only) */
        get: operations["listWebhookDeliveries"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/webhook/{id}/deliveries/{delivery_id}/retry": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Send a delivered or failed delivery again (admins only)
         * @description Queues the delivery again from its first attempt, with the same `webhook-id` (a receiver
         *     that keeps the ids it has handled sees it is a repeat). A delivery still pending is already
         *     being tried: `409` (`delivery-pending`).
         */
        post: operations["retryWebhookDelivery"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness probe; the process is up */
        get: operations["getLiveness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness probe; the database answers */
        get: operations["getReadiness"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Prometheus metrics
         * @description Request rates and latencies by route template, process and event-loop metrics, the
         *     database pool, query timings and business counters (orders placed, declined and cancelled, units sold and returned).
         *     When the service is configured with `METRICS_TOKEN`, send it as a bearer token; without it, or
         *     with a wrong one, the answer is 401. Without `METRICS_TOKEN` none is needed (the empty
         *     security requirement below).
         */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API description as JSON */
        get: operations["getOpenApiJson"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.yaml": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API description as YAML */
        get: operations["getOpenApiYaml"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        /** @description An RFC 9457 problem document. */
        Problem: {
            /** @description A URI naming the kind of problem: urn:order-service:problem:<code>. */
            type: string;
            /**
             * @description The kind of problem, machine-readable: switch on it. `bad-request` is a client error of no
             *     more specific kind (its `status` may be any 4xx the others do not cover).
             * @enum {string}
             */
            code: "validation-failed" | "malformed-json" | "malformed-request" | "bad-request" | "name-taken" | "insufficient-stock" | "unknown-product" | "unauthorized" | "token-not-valid" | "invalid-credentials" | "forbidden" | "not-found" | "method-not-allowed" | "request-timeout" | "order-already-cancelled" | "order-already-fulfilled" | "stock-out-of-range" | "delivery-pending" | "precondition-failed" | "payload-too-large" | "unsupported-media-type" | "idempotency-key-reused" | "too-many-requests" | "headers-too-large" | "internal-error" | "order-outcome-unknown" | "overloaded" | "service-unavailable";
            /** @description A short summary of the kind of problem. */
            title: string;
            status: number;
            /** @description What went wrong in this occurrence. */
            detail: string;
            /** @description The request path. */
            instance: string;
            /** @description The id of the request in the service's logs, also sent as the `X-Request-Id` header: a UUIDv7, or the client's own well-formed `X-Request-Id`. */
            request_id?: string;
            /**
             * @description The W3C trace id of the request (32 lowercase hex digits) when the service exports traces
             *     (OpenTelemetry): the client's own from its `traceparent` header, else a new one. Absent when
             *     tracing is off. Find the request's spans under it in the trace backend.
             */
            trace_id?: string;
            /** @description Each validation failure, with a JSON pointer into the request. */
            errors?: {
                path: string;
                message: string;
                code?: string;
                product_id?: number;
                requested?: number;
                available?: number;
            }[];
        };
        /** @example 1 */
        SerialId: number;
        /**
         * @description An id in a path, in decimal digits (`/api/order/1.0` is a `400`).
         * @example 1
         */
        SerialIdParameter: number;
        /**
         * @description An exact decimal amount with three decimals.
         * @example 2.200
         */
        Money: string;
        /**
         * @description A non-negative decimal number.
         * @example 1.5
         */
        DecimalQuery: string;
        /**
         * Format: date-time
         * @example 2026-01-01T12:00:00.000Z
         */
        Timestamp: string;
        Health: {
            /** @enum {string} */
            status: "ok" | "ready";
        };
        Credentials: {
            name: string;
            password: string;
        };
        RefreshRequest: {
            refresh: string;
        };
        TokenPair: {
            /** @description Access token (HS256 JWT). */
            access: string;
            /** @description Refresh token (HS256 JWT); single use. */
            refresh: string;
        };
        /**
         * @description Trimmed, 1 to 100 characters (also once lowercased: "İ" lowercases to two), unique
         *     regardless of case; at least one letter, digit, punctuation mark or symbol; no control
         *     characters, line separators or lone surrogates.
         * @example user1
         */
        UserName: string;
        /**
         * @description 8 to 128 characters, no control characters or lone surrogates. Also refused, with a 400
         *     naming the rule: only digits (`entirely-numeric`), too similar to the name
         *     (`too-similar-to-name`), a common password (`too-common`).
         * @example 123abc#$%
         */
        Password: string;
        Registration: {
            name: components["schemas"]["UserName"];
            password: components["schemas"]["Password"];
        };
        UserUpdate: {
            name?: components["schemas"]["UserName"];
            password?: components["schemas"]["Password"];
            /** @description Required to change one's own password. */
            current_password?: string;
            /** @description Admins only. */
            is_admin?: boolean;
        };
        User: {
            /** Format: uuid */
            id: string;
            name: string;
            is_admin: boolean;
            created_at: components["schemas"]["Timestamp"];
            updated_at: components["schemas"]["Timestamp"];
        };
        UserPage: components["schemas"]["PageLinks"] & {
            results: components["schemas"]["User"][];
        };
        PageLinks: {
            /** @description How many items match in all. */
            count: number;
            /**
             * Format: uri-reference
             * @description The next page's URL, absolute when the service knows its public address, else relative to the server root.
             */
            next: string | null;
            /**
             * Format: uri-reference
             * @description The previous page's URL, in the same form as `next`.
             */
            previous: string | null;
        };
        /**
         * @description A decimal of at most 10 digits, 3 after the point, as a string ("2.2") or a JSON number. A
         *     number is taken as its shortest decimal form, which must be a whole number of thousandths:
         *     `2.2` is, `0.1 + 0.2` (`0.30000000000000004`) is not; send prices you compute as strings.
         * @example 2.2
         */
        PriceInput: string | number;
        /**
         * @description Units in stock, from 0 to 2147483647; a numeric string such as "100" is accepted.
         * @example 100
         */
        StockInput: number | string;
        /**
         * @description 1 to 200 characters (also once lowercased), unique regardless of case; at least one letter,
         *     digit, punctuation mark or symbol; no control characters, line separators or lone surrogates.
         * @example RedBull
         */
        ProductName: string;
        ProductInput: {
            name: components["schemas"]["ProductName"];
            price: components["schemas"]["PriceInput"];
            stock: components["schemas"]["StockInput"];
        };
        ProductUpdate: {
            name?: components["schemas"]["ProductName"];
            price?: components["schemas"]["PriceInput"];
            stock?: components["schemas"]["StockInput"];
        };
        ProductPatch: {
            name?: components["schemas"]["ProductName"];
            price?: components["schemas"]["PriceInput"];
            stock?: components["schemas"]["StockInput"];
            /**
             * @description Units to add (negative to remove), atomically; not together with `stock`.
             * @example 20
             */
            stock_delta?: number;
        };
        Product: {
            id: number;
            name: string;
            price: components["schemas"]["Money"];
            stock: number;
            created_at: components["schemas"]["Timestamp"];
            updated_at: components["schemas"]["Timestamp"];
        };
        ProductPage: components["schemas"]["PageLinks"] & {
            results: components["schemas"]["Product"][];
        };
        OrderLineInput: {
            id: components["schemas"]["SerialId"];
            /**
             * @description Units of this product, from 1 to 10000.
             * @example 15
             */
            quantity: number;
        };
        OrderInput: {
            products: components["schemas"]["OrderLineInput"][];
        };
        OrderItem: {
            /**
             * @description The id of the product as ordered, kept after the product is removed from the catalogue.
             *     null only on lines whose product was removed before the service kept ids (older history).
             */
            product_id: number | null;
            /** @description The product's name when the order was placed. */
            name: string;
            quantity: number;
            unit_price: components["schemas"]["Money"];
            line_total: components["schemas"]["Money"];
        };
        /**
         * @description `created` when placed; then either `cancelled` (its lines went back to stock) or
         *     `fulfilled` (an admin marked it sent). Both are final.
         * @example created
         * @enum {string}
         */
        OrderStatus: "created" | "cancelled" | "fulfilled";
        Order: {
            id: number;
            status: components["schemas"]["OrderStatus"];
            created_at: components["schemas"]["Timestamp"];
            /**
             * Format: date-time
             * @description When the order was cancelled; null while it is not.
             */
            cancelled_at: string | null;
            /**
             * Format: date-time
             * @description When the order was fulfilled; null while it is not.
             */
            fulfilled_at: string | null;
            items: components["schemas"]["OrderItem"][];
            total: components["schemas"]["Money"];
        };
        OrderPage: components["schemas"]["PageLinks"] & {
            results: components["schemas"]["Order"][];
        };
        /**
         * @description What happened; `data` is the resource after the change (for `product.deleted`, as it was when deleted).
         * @example order.created
         * @enum {string}
         */
        EventType: "order.created" | "order.cancelled" | "order.fulfilled" | "product.created" | "product.updated" | "product.deleted";
        Event: {
            /**
             * Format: uuid
             * @description A UUIDv7, unique per event; webhooks carry it as `webhook-id` (the same on every retry).
             */
            id: string;
            type: components["schemas"]["EventType"];
            /** @description When the change's transaction began (the order's `created_at` for `order.created`). */
            occurred_at: components["schemas"]["Timestamp"];
            /** @description The order (`order.*`) or the product (`product.*`), exactly as the API answers it. */
            data: components["schemas"]["Order"] | components["schemas"]["Product"];
        };
        EventPage: {
            /** @description The position after the last event of this page (the `after` sent when the page is empty; null at the start of an empty stream). */
            cursor: string | null;
            /**
             * Format: uri-reference
             * @description The URL of the events after this page, always present (poll it for new events at the end of the stream).
             */
            next: string;
            /** @description `true` when more events follow already; `false` at the end of the stream for now. */
            has_more: boolean;
            results: components["schemas"]["Event"][];
        };
        /**
         * @description Where events are POSTed. In production an `https` URL whose name resolves to public addresses only.
         * @example https://fulfilment.example/hooks/orders
         */
        WebhookUrl: string;
        WebhookEventTypes: components["schemas"]["EventType"][];
        WebhookInput: {
            url: components["schemas"]["WebhookUrl"];
            event_types: components["schemas"]["WebhookEventTypes"];
        };
        WebhookUpdate: {
            url?: components["schemas"]["WebhookUrl"];
            event_types?: components["schemas"]["WebhookEventTypes"];
            /** @description `false` stops deliveries to it; `true` resumes them (and clears `disabled_reason`). */
            enabled?: boolean;
        };
        Webhook: {
            /** Format: uuid */
            id: string;
            url: string;
            event_types: components["schemas"]["EventType"][];
            enabled: boolean;
            /** @description Why the service disabled it: `gone` (it answered 410) or `failing` (every attempt failed for too long); null when enabled or disabled by an admin. */
            disabled_reason: ("gone" | "failing") | null;
            /**
             * Format: date-time
             * @description Until when deliveries are also signed with the secret before the last rotation; null when none.
             */
            previous_secret_expires_at: string | null;
            created_at: components["schemas"]["Timestamp"];
            updated_at: components["schemas"]["Timestamp"];
        };
        WebhookWithSecret: components["schemas"]["Webhook"] & {
            /** @description The signing secret (Standard Webhooks `whsec_` form), shown only in this answer. */
            secret: string;
        };
        WebhookPage: components["schemas"]["PageLinks"] & {
            results: components["schemas"]["Webhook"][];
        };
        /**
         * @description `pending`: waiting for its next attempt (or in flight); `delivered`: answered 2xx; `failed`: the last attempt failed, or the endpoint answered 410.
         * @enum {string}
         */
        DeliveryStatus: "pending" | "delivered" | "failed";
        WebhookDelivery: {
            /** Format: uuid */
            id: string;
            /**
             * Format: uuid
             * @description The event's id: the `webhook-id` header of every attempt.
             */
            event_id: string;
            /** @description The event's type (or `webhook.test`). */
            event_type: string;
            status: components["schemas"]["DeliveryStatus"];
            attempts: number;
            /** @description The status the endpoint answered the last attempt with; null when it did not answer. */
            last_response_code: number | null;
            last_duration_ms: number | null;
            /** @description Why the last attempt failed: a timeout, a refused connection, an address not allowed, a status. */
            last_error: string | null;
            /**
             * Format: date-time
             * @description When it is tried next; null once delivered or failed.
             */
            next_attempt_at: string | null;
            created_at: components["schemas"]["Timestamp"];
            /** Format: date-time */
            delivered_at: string | null;
        };
        WebhookDeliveryPage: components["schemas"]["PageLinks"] & {
            results: components["schemas"]["WebhookDelivery"][];
        };
    };
    responses: {
        /** @description The representation you hold (its `ETag` is in `If-None-Match`) is still current; no body. */
        NotModified: {
            headers: {
                ETag: components["headers"]["ETag"];
                "Cache-Control": components["headers"]["CacheControl"];
                [name: string]: unknown;
            };
            content?: never;
        };
        /** @description `If-Match` does not match the product's current `ETag`: someone changed it since you read it. Nothing was changed; read it again. */
        PreconditionFailed: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:precondition-failed",
                 *       "title": "Precondition Failed",
                 *       "status": 412,
                 *       "code": "precondition-failed",
                 *       "detail": "Product 1 changed since you read it; nothing was changed. Read it again for its current ETag.",
                 *       "instance": "/api/product/1"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The request is invalid; `errors` lists each problem. */
        BadRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:validation-failed",
                 *       "title": "Validation failed",
                 *       "status": 400,
                 *       "code": "validation-failed",
                 *       "detail": "The request is invalid.",
                 *       "instance": "/api/product/",
                 *       "errors": [
                 *         {
                 *           "path": "/price",
                 *           "message": "must be a decimal with at most 7 digits before the point and 3 after"
                 *         }
                 *       ]
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description No valid credentials were sent. */
        Unauthorized: {
            headers: {
                /**
                 * @description The authentication scheme to use.
                 * @example Bearer realm="api"
                 */
                "WWW-Authenticate": string;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:unauthorized",
                 *       "title": "Unauthorized",
                 *       "status": 401,
                 *       "code": "unauthorized",
                 *       "detail": "Authentication credentials were not provided.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The credentials are valid but lack the right for this operation. */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:forbidden",
                 *       "title": "Forbidden",
                 *       "status": 403,
                 *       "code": "forbidden",
                 *       "detail": "You do not have permission to perform this action.",
                 *       "instance": "/api/product/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description Nothing is here (or it is not yours). */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:not-found",
                 *       "title": "Not Found",
                 *       "status": 404,
                 *       "code": "not-found",
                 *       "detail": "Product 42 does not exist.",
                 *       "instance": "/api/product/42"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The request body is larger than the service accepts. */
        PayloadTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:payload-too-large",
                 *       "title": "Payload Too Large",
                 *       "status": 413,
                 *       "code": "payload-too-large",
                 *       "detail": "The request body is larger than 65536 bytes.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /**
         * @description The request body is not `application/json`. An operation without a request body (a cancel,
         *     a delete) takes an empty body with any `Content-Type` or none, as HTTP clients send it
         *     (axios says `application/x-www-form-urlencoded`, generated fetch clients `application/json`);
         *     only a non-empty body it cannot read is refused.
         */
        UnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:unsupported-media-type",
                 *       "title": "Unsupported Media Type",
                 *       "status": 415,
                 *       "code": "unsupported-media-type",
                 *       "detail": "Send the body as application/json.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The path exists but not with this method; `Allow` lists the methods it has. */
        MethodNotAllowed: {
            headers: {
                /**
                 * @description The methods this path supports.
                 * @example GET, HEAD, POST
                 */
                Allow: string;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:method-not-allowed",
                 *       "title": "Method Not Allowed",
                 *       "status": 405,
                 *       "code": "method-not-allowed",
                 *       "detail": "/api/order/ does not support DELETE; it supports GET, HEAD, POST.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /**
         * @description The HTTP parser refused the request (400: malformed; 408: too slow; 431: headers too large).
         *     No operation was reached; the connection is closed after this answer.
         */
        MalformedRequest: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:malformed-request",
                 *       "title": "Malformed HTTP request",
                 *       "status": 400,
                 *       "code": "malformed-request",
                 *       "detail": "The request is not valid HTTP/1.1 (HPE_INVALID_CONTENT_LENGTH).",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /**
         * @description The request did not arrive in time (its headers within 5 seconds, all of it within 10). No
         *     operation was reached; the connection is closed after this answer.
         */
        RequestTimeout: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:request-timeout",
                 *       "title": "Request Timeout",
                 *       "status": 408,
                 *       "code": "request-timeout",
                 *       "detail": "The request was not received in time.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The request's headers are larger than the service accepts. No operation was reached; the connection is closed after this answer. */
        HeadersTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:headers-too-large",
                 *       "title": "Request Header Fields Too Large",
                 *       "status": 431,
                 *       "code": "headers-too-large",
                 *       "detail": "The request's headers are larger than the service accepts.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description The Idempotency-Key was already used with a different request body. */
        IdempotencyMismatch: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:idempotency-key-reused",
                 *       "title": "Idempotency key reused",
                 *       "status": 422,
                 *       "code": "idempotency-key-reused",
                 *       "detail": "This Idempotency-Key was used with a different request body.",
                 *       "instance": "/api/order/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /**
         * @description Nothing changed, for one of three reasons (`code`): the order was cancelled before, by this
         *     request's twin or earlier (`order-already-cancelled`); it was fulfilled
         *     (`order-already-fulfilled`); or putting a line back would take its product's stock above
         *     2147483647 (`stock-out-of-range`), and the order is still `created`.
         */
        CancelRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"] & {
                    /** @enum {string} */
                    code?: "order-already-cancelled" | "order-already-fulfilled" | "stock-out-of-range";
                };
            };
        };
        /**
         * @description Nothing changed: the order was fulfilled before, by a concurrent request or earlier
         *     (`order-already-fulfilled`), or it was cancelled (`order-already-cancelled`).
         */
        FulfilRefused: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"] & {
                    /** @enum {string} */
                    code?: "order-already-fulfilled" | "order-already-cancelled";
                };
            };
        };
        /** @description Too many attempts; wait `Retry-After` seconds. */
        TooManyRequests: {
            headers: {
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:too-many-requests",
                 *       "title": "Too Many Requests",
                 *       "status": 429,
                 *       "code": "too-many-requests",
                 *       "detail": "Too many attempts; try again in 60 seconds.",
                 *       "instance": "/api/token/"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /** @description An unexpected error; the body carries no internals, the log has the request id. */
        InternalError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:internal-error",
                 *       "title": "Internal Server Error",
                 *       "status": 500,
                 *       "code": "internal-error",
                 *       "detail": "An unexpected error occurred. Quote the request id when reporting it.",
                 *       "instance": "/api/order/",
                 *       "request_id": "019abcde-f012-7345-8678-9abcdef01234"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
        /**
         * @description The database or the service is unavailable for now; retry after `Retry-After` seconds.
         *     `code` says why: `service-unavailable` (the database cannot be reached or is stalled, or the
         *     service is shutting down) or `overloaded` (the database is fine, but every connection to it
         *     stayed busy for the whole wait, or the event loop is saturated: more work than the service can
         *     take on at once). Nothing was written; on `POST /api/order/` the code may also be
         *     `order-outcome-unknown` (see that operation).
         */
        ServiceUnavailable: {
            headers: {
                "Retry-After": components["headers"]["RetryAfter"];
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "type": "urn:order-service:problem:service-unavailable",
                 *       "title": "Service Unavailable",
                 *       "status": 503,
                 *       "code": "service-unavailable",
                 *       "detail": "The database is unavailable; try again shortly.",
                 *       "instance": "/readyz"
                 *     }
                 */
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
    };
    parameters: {
        /**
         * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
         * @example 5
         */
        Limit: number;
        /**
         * @description How many items to skip, in decimal digits.
         * @example 0
         */
        Offset: number;
        /** @description `ETag`s of answers you keep (or `*`); while one still matches, the answer is `304` with no body. */
        IfNoneMatch: string;
        /**
         * @description The product's `ETag` as you read it (or `*`: any current version). The write happens only if
         *     it still matches, else `412` and nothing changes. Optional: without it the write is
         *     unconditional, as for the reference's clients.
         */
        IfMatch: string;
        /**
         * @description The product's id.
         * @example 1
         */
        ProductId: components["schemas"]["SerialIdParameter"];
        /**
         * @description The user's id.
         * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
         */
        UserId: string;
        /**
         * @description The webhook endpoint's id.
         * @example 019abcde-f012-7345-8678-9abcdef05678
         */
        WebhookId: string;
    };
    requestBodies: never;
    headers: {
        /**
         * @description The URL of the created resource.
         * @example /api/product/1
         */
        Location: string;
        /**
         * @description The entity tag of this representation. Send it back in `If-None-Match` to revalidate a read
         *     (`304` while unchanged), or, for a single product, in `If-Match` to make a write conditional.
         * @example "1-3"
         */
        ETag: string;
        /**
         * @description Clients may keep the answer but must revalidate it (with `If-None-Match`) before reusing it; shared caches must not keep it.
         * @example private, no-cache
         */
        CacheControl: "private, no-cache";
        /**
         * @description Seconds to wait before trying again.
         * @example 5
         */
        RetryAfter: number;
    };
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    obtainToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "admin",
                 *       "password": "12345"
                 *     }
                 */
                "application/json": components["schemas"]["Credentials"];
            };
        };
        responses: {
            /** @description The credentials are right. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
                     *       "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
                     *     }
                     */
                    "application/json": components["schemas"]["TokenPair"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    refreshToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
                 *     }
                 */
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description A new access token and the next refresh token. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
                     *       "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
                     *     }
                     */
                    "application/json": components["schemas"]["TokenPair"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    revokeToken: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "refresh": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
                 *     }
                 */
                "application/json": components["schemas"]["RefreshRequest"];
            };
        };
        responses: {
            /** @description The refresh token is retired (or was already). */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    registerUser: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "user1",
                 *       "password": "123abc#$%"
                 *     }
                 */
                "application/json": components["schemas"]["Registration"];
            };
        };
        responses: {
            /** @description The user was created. */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90",
                     *       "name": "user1",
                     *       "is_admin": false,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            /** @description The request is invalid; `errors` lists each rule broken. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["TooManyRequests"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listUsers: {
        parameters: {
            query?: {
                /**
                 * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
                 * @example 5
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip, in decimal digits.
                 * @example 0
                 */
                offset?: components["parameters"]["Offset"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of users, oldest first. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "count": 1,
                     *       "next": null,
                     *       "previous": null,
                     *       "results": [
                     *         {
                     *           "id": "0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90",
                     *           "name": "admin",
                     *           "is_admin": true,
                     *           "created_at": "2026-01-01T12:00:00.000Z",
                     *           "updated_at": "2026-01-01T12:00:00.000Z"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["UserPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
                 */
                id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90",
                     *       "name": "user1",
                     *       "is_admin": false,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
                 */
                id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "password": "a-new-long-passphrase",
                 *       "current_password": "123abc#$%"
                 *     }
                 */
                "application/json": components["schemas"]["UserUpdate"];
            };
        };
        responses: {
            /** @description The changed user. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90",
                     *       "name": "user1",
                     *       "is_admin": false,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-02T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
                 */
                id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The user was deleted; their tokens stop working within seconds. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    patchUser: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The user's id.
                 * @example 0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90
                 */
                id: components["parameters"]["UserId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "user1-renamed"
                 *     }
                 */
                "application/json": components["schemas"]["UserUpdate"];
            };
        };
        responses: {
            /** @description The changed user. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "0b9f2c4e-3f71-4a5e-9d0b-6f1d2a7c8e90",
                     *       "name": "user1",
                     *       "is_admin": false,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-02T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["User"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listProducts: {
        parameters: {
            query?: {
                /**
                 * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
                 * @example 5
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip, in decimal digits.
                 * @example 0
                 */
                offset?: components["parameters"]["Offset"];
                /**
                 * @description Empty to start cursor paging, else the `cursor` of a `next` or `previous` link, sent back
                 *     unchanged with the same filter and ordering.
                 */
                cursor?: string;
                /**
                 * @description The sort key: `id` (default), `name` (ignoring case), `price` or `created_at`; `-` first for descending. Ties are broken by `id`.
                 * @example price
                 */
                ordering?: "id" | "-id" | "name" | "-name" | "price" | "-price" | "created_at" | "-created_at";
                /**
                 * @description Keeps products whose name contains this text, ignoring case.
                 * @example redbull
                 */
                keyword?: string;
                /**
                 * @deprecated
                 * @description The same as `keyword` (an old README named it so). Sending both with different values is a
                 *     `400` problem; with the same value it is the same as sending one.
                 * @example redbull
                 */
                keywords?: string;
                /**
                 * @description Keeps products whose price is at least this decimal.
                 * @example 1
                 */
                min_price?: components["schemas"]["DecimalQuery"];
                /**
                 * @description Keeps products whose price is at most this decimal.
                 * @example 2.5
                 */
                max_price?: components["schemas"]["DecimalQuery"];
            };
            header?: {
                /** @description `ETag`s of answers you keep (or `*`); while one still matches, the answer is `304` with no body. */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of products, in the order `ordering` asks for. */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "count": 6,
                     *       "next": "http://localhost:8000/api/product/?keyword=redbull&max_price=2.5&limit=5&offset=5",
                     *       "previous": null,
                     *       "results": [
                     *         {
                     *           "id": 1,
                     *           "name": "RedBull",
                     *           "price": "2.200",
                     *           "stock": 100,
                     *           "created_at": "2026-01-01T12:00:00.000Z",
                     *           "updated_at": "2026-01-01T12:00:00.000Z"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["ProductPage"];
                };
            };
            304: components["responses"]["NotModified"];
            /** @description The request is invalid; `errors` lists each problem, with a `code` for the rules between parameters. */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createProduct: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "RedBull",
                 *       "price": "2.2",
                 *       "stock": "100"
                 *     }
                 */
                "application/json": components["schemas"]["ProductInput"];
            };
        };
        responses: {
            /** @description The product was created. */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "name": "RedBull",
                     *       "price": "2.200",
                     *       "stock": 100,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Product"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getProduct: {
        parameters: {
            query?: never;
            header?: {
                /** @description `ETag`s of answers you keep (or `*`); while one still matches, the answer is `304` with no body. */
                "If-None-Match"?: components["parameters"]["IfNoneMatch"];
            };
            path: {
                /**
                 * @description The product's id.
                 * @example 1
                 */
                id: components["parameters"]["ProductId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The product. */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    "Cache-Control": components["headers"]["CacheControl"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "name": "RedBull",
                     *       "price": "2.200",
                     *       "stock": 100,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Product"];
                };
            };
            304: components["responses"]["NotModified"];
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateProduct: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The product's `ETag` as you read it (or `*`: any current version). The write happens only if
                 *     it still matches, else `412` and nothing changes. Optional: without it the write is
                 *     unconditional, as for the reference's clients.
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The product's id.
                 * @example 1
                 */
                id: components["parameters"]["ProductId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "RedBull Purple"
                 *     }
                 */
                "application/json": components["schemas"]["ProductUpdate"];
            };
        };
        responses: {
            /** @description The changed product, with its new `ETag`. */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "name": "RedBull Purple",
                     *       "price": "2.200",
                     *       "stock": 100,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-02T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Product"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteProduct: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The product's `ETag` as you read it (or `*`: any current version). The write happens only if
                 *     it still matches, else `412` and nothing changes. Optional: without it the write is
                 *     unconditional, as for the reference's clients.
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The product's id.
                 * @example 1
                 */
                id: components["parameters"]["ProductId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The product was removed. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            412: components["responses"]["PreconditionFailed"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    patchProduct: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description The product's `ETag` as you read it (or `*`: any current version). The write happens only if
                 *     it still matches, else `412` and nothing changes. Optional: without it the write is
                 *     unconditional, as for the reference's clients.
                 */
                "If-Match"?: components["parameters"]["IfMatch"];
            };
            path: {
                /**
                 * @description The product's id.
                 * @example 1
                 */
                id: components["parameters"]["ProductId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "price": "2.5",
                 *       "stock_delta": 20
                 *     }
                 */
                "application/json": components["schemas"]["ProductPatch"];
            };
        };
        responses: {
            /** @description The changed product, with its new `ETag`. */
            200: {
                headers: {
                    ETag: components["headers"]["ETag"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "name": "RedBull Purple",
                     *       "price": "2.200",
                     *       "stock": 100,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-02T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Product"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            /** @description `stock_delta` would take the stock below 0 or above 2147483647; nothing was changed. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "type": "urn:order-service:problem:stock-out-of-range",
                     *       "title": "Stock out of range",
                     *       "status": 409,
                     *       "code": "stock-out-of-range",
                     *       "detail": "Product 1 has 3 in stock; a change of -5 would leave -2.",
                     *       "instance": "/api/product/1",
                     *       "errors": [
                     *         {
                     *           "path": "/body/stock_delta",
                     *           "code": "stock-out-of-range",
                     *           "message": "3 in stock, -5 would leave -2",
                     *           "product_id": 1,
                     *           "requested": -5,
                     *           "available": 3
                     *         }
                     *       ]
                     *     }
                     */
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            412: components["responses"]["PreconditionFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listOrders: {
        parameters: {
            query?: {
                /**
                 * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
                 * @example 5
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip, in decimal digits.
                 * @example 0
                 */
                offset?: components["parameters"]["Offset"];
                /** @description Only this customer's orders (admins; others may send only their own id). */
                user_id?: string;
                /** @description Only orders in one of these states; repeat the parameter for several. */
                status?: components["schemas"]["OrderStatus"][];
                /** @description Only orders placed at or after this instant (RFC 3339, with a time zone). */
                created_after?: string;
                /** @description Only orders placed strictly before this instant (RFC 3339, with a time zone). */
                created_before?: string;
                /**
                 * @description Empty to start cursor paging, else the `cursor` of a `next` or `previous` link, sent back
                 *     unchanged with the same filter.
                 */
                cursor?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of orders (the caller's own, unless an admin asked for the back-office list). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "count": 1,
                     *       "next": null,
                     *       "previous": null,
                     *       "results": [
                     *         {
                     *           "id": 1,
                     *           "status": "created",
                     *           "created_at": "2026-01-01T12:00:00.000Z",
                     *           "cancelled_at": null,
                     *           "fulfilled_at": null,
                     *           "items": [
                     *             {
                     *               "product_id": 1,
                     *               "name": "RedBull",
                     *               "quantity": 15,
                     *               "unit_price": "2.200",
                     *               "line_total": "33.000"
                     *             }
                     *           ],
                     *           "total": "33.000"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["OrderPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createOrder: {
        parameters: {
            query?: never;
            header?: {
                /**
                 * @description A new key per order attempt that you make up (a UUID, say
                 *     `5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f`), sent again only when retrying that attempt.
                 */
                "Idempotency-Key"?: string;
            };
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "products": [
                 *         {
                 *           "id": 1,
                 *           "quantity": 15
                 *         }
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["OrderInput"];
            };
        };
        responses: {
            /** @description The order was placed (or, for a repeated Idempotency-Key, was placed before). */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    /**
                     * @description `true` when this answer repeats the order first placed with this Idempotency-Key.
                     * @example true
                     */
                    "Idempotent-Replayed"?: "true";
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "status": "created",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "cancelled_at": null,
                     *       "fulfilled_at": null,
                     *       "items": [
                     *         {
                     *           "product_id": 1,
                     *           "name": "RedBull",
                     *           "quantity": 15,
                     *           "unit_price": "2.200",
                     *           "line_total": "33.000"
                     *         }
                     *       ],
                     *       "total": "33.000"
                     *     }
                     */
                    "application/json": components["schemas"]["Order"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            422: components["responses"]["IdempotencyMismatch"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getOrder: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The order's id.
                 * @example 1
                 */
                id: components["schemas"]["SerialIdParameter"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The order. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "status": "created",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "cancelled_at": null,
                     *       "fulfilled_at": null,
                     *       "items": [
                     *         {
                     *           "product_id": 1,
                     *           "name": "RedBull",
                     *           "quantity": 15,
                     *           "unit_price": "2.200",
                     *           "line_total": "33.000"
                     *         }
                     *       ],
                     *       "total": "33.000"
                     *     }
                     */
                    "application/json": components["schemas"]["Order"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    cancelOrder: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The order's id.
                 * @example 1
                 */
                id: components["schemas"]["SerialIdParameter"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The order, now cancelled; its lines are back in stock. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "status": "cancelled",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "cancelled_at": "2026-01-01T12:05:00.000Z",
                     *       "fulfilled_at": null,
                     *       "items": [
                     *         {
                     *           "product_id": 1,
                     *           "name": "RedBull",
                     *           "quantity": 15,
                     *           "unit_price": "2.200",
                     *           "line_total": "33.000"
                     *         }
                     *       ],
                     *       "total": "33.000"
                     *     }
                     */
                    "application/json": components["schemas"]["Order"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            409: components["responses"]["CancelRefused"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    fulfilOrder: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The order's id.
                 * @example 1
                 */
                id: components["schemas"]["SerialIdParameter"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The order, now fulfilled. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": 1,
                     *       "status": "fulfilled",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "cancelled_at": null,
                     *       "fulfilled_at": "2026-01-01T13:00:00.000Z",
                     *       "items": [
                     *         {
                     *           "product_id": 1,
                     *           "name": "RedBull",
                     *           "quantity": 15,
                     *           "unit_price": "2.200",
                     *           "line_total": "33.000"
                     *         }
                     *       ],
                     *       "total": "33.000"
                     *     }
                     */
                    "application/json": components["schemas"]["Order"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            409: components["responses"]["FulfilRefused"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listEvents: {
        parameters: {
            query?: {
                /** @description The `cursor` of a page read before (or of its `next` link): the events after it. */
                after?: string;
                /**
                 * @description Only events of these types; repeat for several.
                 * @example [
                 *       "order.created"
                 *     ]
                 */
                type?: components["schemas"]["EventType"][];
                /**
                 * @description Page size (default 100).
                 * @example 100
                 */
                limit?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The next events of the stream. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "cursor": "MTIzNDU2LjAxOWFiY2RlLWYwMTItNzM0NS04Njc4LTlhYmNkZWYwMTIzNA",
                     *       "next": "http://localhost:8000/api/event/?after=MTIzNDU2LjAxOWFiY2RlLWYwMTItNzM0NS04Njc4LTlhYmNkZWYwMTIzNA&limit=100",
                     *       "has_more": false,
                     *       "results": [
                     *         {
                     *           "id": "019abcde-f012-7345-8678-9abcdef01234",
                     *           "type": "order.created",
                     *           "occurred_at": "2026-01-01T12:00:00.000Z",
                     *           "data": {
                     *             "id": 1,
                     *             "status": "created",
                     *             "created_at": "2026-01-01T12:00:00.000Z",
                     *             "cancelled_at": null,
                     *             "fulfilled_at": null,
                     *             "items": [
                     *               {
                     *                 "product_id": 1,
                     *                 "name": "RedBull",
                     *                 "quantity": 15,
                     *                 "unit_price": "2.200",
                     *                 "line_total": "33.000"
                     *               }
                     *             ],
                     *             "total": "33.000"
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["EventPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listWebhooks: {
        parameters: {
            query?: {
                /**
                 * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
                 * @example 5
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip, in decimal digits.
                 * @example 0
                 */
                offset?: components["parameters"]["Offset"];
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of endpoints, oldest first (secrets are never shown again). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "count": 1,
                     *       "next": null,
                     *       "previous": null,
                     *       "results": [
                     *         {
                     *           "id": "019abcde-f012-7345-8678-9abcdef05678",
                     *           "url": "https://fulfilment.example/hooks/orders",
                     *           "event_types": [
                     *             "order.created",
                     *             "order.cancelled"
                     *           ],
                     *           "enabled": true,
                     *           "disabled_reason": null,
                     *           "previous_secret_expires_at": null,
                     *           "created_at": "2026-01-01T12:00:00.000Z",
                     *           "updated_at": "2026-01-01T12:00:00.000Z"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    createWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "url": "https://fulfilment.example/hooks/orders",
                 *       "event_types": [
                 *         "order.created",
                 *         "order.cancelled"
                 *       ]
                 *     }
                 */
                "application/json": components["schemas"]["WebhookInput"];
            };
        };
        responses: {
            /** @description The endpoint, with its signing secret (only now). */
            201: {
                headers: {
                    Location: components["headers"]["Location"];
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "019abcde-f012-7345-8678-9abcdef05678",
                     *       "url": "https://fulfilment.example/hooks/orders",
                     *       "event_types": [
                     *         "order.created",
                     *         "order.cancelled"
                     *       ],
                     *       "enabled": true,
                     *       "disabled_reason": null,
                     *       "previous_secret_expires_at": null,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z",
                     *       "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookWithSecret"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The endpoint. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "019abcde-f012-7345-8678-9abcdef05678",
                     *       "url": "https://fulfilment.example/hooks/orders",
                     *       "event_types": [
                     *         "order.created",
                     *         "order.cancelled"
                     *       ],
                     *       "enabled": true,
                     *       "disabled_reason": null,
                     *       "previous_secret_expires_at": null,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    deleteWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The endpoint is gone; nothing more is sent to it. */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    updateWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "enabled": true
                 *     }
                 */
                "application/json": components["schemas"]["WebhookUpdate"];
            };
        };
        responses: {
            /** @description The endpoint as changed. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "019abcde-f012-7345-8678-9abcdef05678",
                     *       "url": "https://fulfilment.example/hooks/orders",
                     *       "event_types": [
                     *         "order.created",
                     *         "order.cancelled"
                     *       ],
                     *       "enabled": true,
                     *       "disabled_reason": null,
                     *       "previous_secret_expires_at": null,
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z"
                     *     }
                     */
                    "application/json": components["schemas"]["Webhook"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    rotateWebhookSecret: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The endpoint with its new secret (only now). */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "019abcde-f012-7345-8678-9abcdef05678",
                     *       "url": "https://fulfilment.example/hooks/orders",
                     *       "event_types": [
                     *         "order.created",
                     *         "order.cancelled"
                     *       ],
                     *       "enabled": true,
                     *       "disabled_reason": null,
                     *       "previous_secret_expires_at": "2026-01-02T12:00:00.000Z",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "updated_at": "2026-01-01T12:00:00.000Z",
                     *       "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookWithSecret"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    sendTestWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The test delivery, queued. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f",
                     *       "event_id": "019abcde-f012-7345-8678-9abcdef01234",
                     *       "event_type": "webhook.test",
                     *       "status": "pending",
                     *       "attempts": 0,
                     *       "last_response_code": null,
                     *       "last_duration_ms": null,
                     *       "last_error": null,
                     *       "next_attempt_at": "2026-01-01T12:00:00.000Z",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "delivered_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookDelivery"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    listWebhookDeliveries: {
        parameters: {
            query?: {
                /**
                 * @description Page size (default 5), in decimal digits (`1e2` or `5.0` is a `400`).
                 * @example 5
                 */
                limit?: components["parameters"]["Limit"];
                /**
                 * @description How many items to skip, in decimal digits.
                 * @example 0
                 */
                offset?: components["parameters"]["Offset"];
                /** @description Only deliveries in this state. */
                status?: components["schemas"]["DeliveryStatus"];
            };
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description A page of deliveries. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "count": 1,
                     *       "next": null,
                     *       "previous": null,
                     *       "results": [
                     *         {
                     *           "id": "5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f",
                     *           "event_id": "019abcde-f012-7345-8678-9abcdef01234",
                     *           "event_type": "order.created",
                     *           "status": "delivered",
                     *           "attempts": 1,
                     *           "last_response_code": 204,
                     *           "last_duration_ms": 35,
                     *           "last_error": null,
                     *           "next_attempt_at": null,
                     *           "created_at": "2026-01-01T12:00:00.000Z",
                     *           "delivered_at": "2026-01-01T12:00:00.050Z"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookDeliveryPage"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    retryWebhookDelivery: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The webhook endpoint's id.
                 * @example 019abcde-f012-7345-8678-9abcdef05678
                 */
                id: components["parameters"]["WebhookId"];
                /**
                 * @description The delivery's id.
                 * @example 5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f
                 */
                delivery_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The delivery, queued again. */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "id": "5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f",
                     *       "event_id": "019abcde-f012-7345-8678-9abcdef01234",
                     *       "event_type": "order.created",
                     *       "status": "pending",
                     *       "attempts": 0,
                     *       "last_response_code": null,
                     *       "last_duration_ms": null,
                     *       "last_error": null,
                     *       "next_attempt_at": "2026-01-01T12:00:00.000Z",
                     *       "created_at": "2026-01-01T12:00:00.000Z",
                     *       "delivered_at": null
                     *     }
                     */
                    "application/json": components["schemas"]["WebhookDelivery"];
                };
            };
            400: components["responses"]["BadRequest"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            408: components["responses"]["RequestTimeout"];
            /** @description The delivery is still pending; nothing changed. */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "type": "urn:order-service:problem:delivery-pending",
                     *       "title": "Delivery pending",
                     *       "status": 409,
                     *       "code": "delivery-pending",
                     *       "detail": "Delivery 5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f is still pending; it will be tried again at 2026-01-01T12:05:00.000Z.",
                     *       "instance": "/api/webhook/019abcde-f012-7345-8678-9abcdef05678/deliveries/5f0c7d2e-4d3b-4f7a-a1c2-9e8b7a6d5c4f/retry"
                     *     }
                     */
                    "application/problem+json": components["schemas"]["Problem"];
                };
            };
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getLiveness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The process serves requests. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": components["schemas"]["Health"];
                };
            };
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getReadiness: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Ready to serve traffic. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ready"
                     *     }
                     */
                    "application/json": components["schemas"]["Health"];
                };
            };
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
            503: components["responses"]["ServiceUnavailable"];
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Metrics in the Prometheus text format. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example # HELP orders_placed_total Orders placed.
                     *     # TYPE orders_placed_total counter
                     *     orders_placed_total 42
                     */
                    "text/plain": string;
                };
            };
            401: components["responses"]["Unauthorized"];
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    getOpenApiJson: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI document. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "openapi": "3.1.0",
                     *       "info": {
                     *         "title": "Order Service API",
                     *         "version": "1.0.0"
                     *       }
                     *     }
                     */
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
    getOpenApiYaml: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The OpenAPI document. */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /** @example openapi: 3.1.0 */
                    "application/yaml": string;
                };
            };
            408: components["responses"]["RequestTimeout"];
            431: components["responses"]["HeadersTooLarge"];
            500: components["responses"]["InternalError"];
        };
    };
}
