/** TODO(in progress): tokens routes. */
import { createApi } from "./api";

export const tokens = createApi();
