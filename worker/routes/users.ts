/** TODO(in progress): users routes. */
import { createApi } from "./api";

export const users = createApi();
