/** TODO(in progress): ingest routes. */
import { createApi } from "./api";

export const ingest = createApi();
