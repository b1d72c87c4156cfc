export { proxyToWorker as onRequest } from "../proxy";
