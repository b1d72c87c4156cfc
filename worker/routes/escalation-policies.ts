/** TODO(in progress): escalation-policies routes. */
import { createApi } from "./api";

export const escalationPolicies = createApi();
