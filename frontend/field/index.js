// The field app's shell: home, the report flow and the offline queue.
import "./field.css";
