import { useEffect } from "preact/hooks";
import { lazy, LocationProvider, Route, Router, useLocation } from "preact-iso";
import { Layout } from "./components/layout";
import { startLive, stopLive } from "./models/live";
import { auth, checkSession } from "./models/session";
import { AlertDetailPage } from "./pages/alert-detail";
import { AlertsPage } from "./pages/alerts";
import { AuditPage } from "./pages/audit";
import { DeliveriesPage } from "./pages/deliveries";
import { LoginPage } from "./pages/login";
import { NotFoundPage } from "./pages/placeholder";
import { PeoplePage } from "./pages/people";
import { PreferencesPage } from "./pages/preferences";
import { RuleEditPage } from "./pages/rule-edit";
import { RulesPage } from "./pages/rules";
import { ServicesPage } from "./pages/services";
import { StatusPage } from "./pages/status";

// Pages with charts load with their page, keeping uPlot out of the first download.
const TrendsPage = lazy(() => import("./pages/trends").then((m) => m.TrendsPage));
const MetricHistoryPage = lazy(() => import("./pages/metric-history").then((m) => m.MetricHistoryPage));
// The API reference parses the whole OpenAPI document: only on its page.
const ApiReferencePage = lazy(() => import("./pages/api-reference").then((m) => m.ApiReferencePage));
// Monitors (forms, snippets) is a page few visits need: it too loads with itself.
const MonitorsPage = lazy(() => import("./pages/monitors").then((m) => m.MonitorsPage));
// Configuration pages are visited rarely: they load with their page too.
const SilencesPage = lazy(() => import("./pages/silences").then((m) => m.SilencesPage));
const SilenceNewPage = lazy(() => import("./pages/silences").then((m) => m.SilenceNewPage));
const EscalationPage = lazy(() => import("./pages/escalation").then((m) => m.EscalationPage));
const EscalationFormPage = lazy(() => import("./pages/escalation").then((m) => m.EscalationFormPage));
// Seldom used: loads with its page.
const ConfigPage = lazy(() => import("./pages/config").then((m) => m.ConfigPage));

function Redirect({ to }: { to: string }) {
  const { route } = useLocation();
  useEffect(() => route(to, true), [to]);
  return null;
}

const Home = () => <Redirect to="/status" />;

/** Moves focus to the new page's content after client-side navigation (not on the first render). */
let firstRoute = true;
function focusMain() {
  if (firstRoute) {
    firstRoute = false;
    return;
  }
  requestAnimationFrame(() => document.getElementById("main")?.focus({ preventScroll: true }));
}

function Shell() {
  const state = auth.value;
  const authenticated = state.kind === "authenticated";

  useEffect(() => {
    if (authenticated) startLive();
    else stopLive();
  }, [authenticated]);

  switch (state.kind) {
    case "checking":
      return (
        <main class="splash" id="main">
          <p role="status">Checking your session{"\u2026"}</p>
        </main>
      );
    case "unreachable":
      return (
        <main class="splash" id="main">
          <div class="error-box" role="alert">
            <p>The dashboard cannot reach the server: {state.message}</p>
            <button type="button" onClick={() => void checkSession()}>
              Try again
            </button>
          </div>
        </main>
      );
    case "anonymous":
      return <LoginPage notice={state.notice} />;
    case "authenticated":
      return (
        <Layout me={state.me}>
          <Router onRouteChange={focusMain}>
            <Route path="/" component={Home} />
            <Route path="/status" component={StatusPage} />
            <Route path="/alerts" component={AlertsPage} />
            <Route path="/alerts/:id" component={AlertDetailPage} />
            <Route path="/deliveries" component={DeliveriesPage} />
            <Route path="/trends" component={TrendsPage} />
            <Route path="/metrics/:service/:metric" component={MetricHistoryPage} />
            <Route path="/rules" component={RulesPage} />
            <Route path="/rules/:id" component={RuleEditPage} />
            <Route path="/silences" component={SilencesPage} />
            <Route path="/silences/new" component={SilenceNewPage} />
            <Route path="/escalation" component={EscalationPage} />
            <Route path="/escalation/:id" component={EscalationFormPage} />
            <Route path="/monitors" component={MonitorsPage} />
            <Route path="/preferences" component={PreferencesPage} />
            <Route path="/services" component={ServicesPage} />
            <Route path="/people" component={PeoplePage} />
            <Route path="/audit" component={AuditPage} />
            <Route path="/api-reference" component={ApiReferencePage} />
            <Route path="/config" component={ConfigPage} />
            <Route default component={NotFoundPage} />
          </Router>
        </Layout>
      );
  }
}

export function App() {
  useEffect(() => void checkSession(), []);
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  );
}
