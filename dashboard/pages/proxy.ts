/**
 * The Pages Functions' one job: pass the original request (method, headers, cookies,
 * body, WebSocket upgrade) to the Worker through the `API` service binding and return
 * its response untouched. Everything else on Pages is static assets.
 */
export const proxyToWorker: PagesFunction<Env> = (context) => context.env.API.fetch(context.request);
