/** TODO(in progress): monitors routes. */
import { createApi } from "./api";

export const monitors = createApi();
