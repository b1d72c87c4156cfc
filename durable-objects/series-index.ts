/** SeriesIndex: the latest sample of every series (being built). */
import { DurableObject } from "cloudflare:workers";

export class SeriesIndex extends DurableObject<Env> {}
