/** TODO(in progress): keys routes. */
import { createApi } from "./api";

export const keys = createApi();
