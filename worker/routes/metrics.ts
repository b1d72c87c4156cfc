/** TODO(in progress): metrics routes. */
import { createApi } from "./api";

export const metrics = createApi();
