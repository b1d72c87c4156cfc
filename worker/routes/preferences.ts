/** TODO(in progress): preferences routes. */
import { createApi } from "./api";

export const preferences = createApi();
