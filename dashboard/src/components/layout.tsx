import type { ComponentChildren } from "preact";
import { useLocation } from "preact-iso";
import type { Me } from "../lib/types";
import { logOut, logoutError } from "../models/session";
import { ConnectionIndicator } from "./connection-indicator";

const NAV = [
  { href: "/status", label: "Live status" },
  { href: "/alerts", label: "Alerts" },
  { href: "/deliveries", label: "Deliveries" },
  { href: "/trends", label: "Trends" },
  { href: "/rules", label: "Rules" },
  { href: "/silences", label: "Silences" },
  { href: "/escalation", label: "Escalation" },
  { href: "/monitors", label: "Monitors" },
  { href: "/services", label: "Services" },
  { href: "/config", label: "Configuration" },
  { href: "/preferences", label: "Preferences" },
  { href: "/audit", label: "Audit", admin: true },
  { href: "/people", label: "People", owner: true },
  { href: "/api-reference", label: "API" },
] as const;

/** The authenticated frame: header with navigation, live state and logout; the page below. */
export function Layout({ me, children }: { me: Me; children: ComponentChildren }) {
  const { path } = useLocation();
  return (
    <>
      <a class="skip-link" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="topbar">
        <a class="brand" href="/status">
          Edge Monitor
        </a>
        <nav aria-label="Main">
          <ul>
            {NAV.filter(
              (item) => (!("owner" in item) || me.role === "owner") && (!("admin" in item) || me.role !== "viewer"),
            ).map((item) => (
              <li key={item.href}>
                <a
                  href={item.href}
                  aria-current={path === item.href ? "page" : path.startsWith(`${item.href}/`) ? "location" : undefined}
                >
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="topbar-end">
          <ConnectionIndicator />
          <span class="who" title={me.email}>
            {me.name || me.email} <span class="muted">({me.role})</span>
          </span>
          <button type="button" onClick={() => void logOut()}>
            Log out
          </button>
        </div>
      </header>
      {logoutError.value && (
        <p class="error-banner" role="alert">
          {logoutError.value}
        </p>
      )}
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}
