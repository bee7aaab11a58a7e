//! Plots, REPORT.md, index.html and the decision guide, built from result rows.
