/**
 * Statistics for population-health analyses: interval estimators, standardization,
 * trends, seasonality and measures of association. Pure functions on numbers that the
 * engine has already aggregated. Formulas and references: docs/analysis-statistics.md.
 */
export * from './stats/special.js';
export * from './stats/intervals.js';
export * from './stats/standardize.js';
export * from './stats/regression.js';
export * from './stats/association.js';
