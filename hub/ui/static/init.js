// Starts the NHS.UK frontend's components (header menu, skip link, error summary focus) on every page.
import { initAll } from "./nhsuk/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();
