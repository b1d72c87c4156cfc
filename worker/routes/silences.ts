/** TODO(in progress): silences routes. */
import { createApi } from "./api";

export const silences = createApi();
