/** TODO(in progress): heartbeat routes. */
import { createApi } from "./api";

export const heartbeat = createApi();
