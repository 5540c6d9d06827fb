# Figure 2: error against BPTT as the precision grows, every rule.  Two panels:
# the approximations stay flat near their gap (top, a few decades), the exact
# rules fall with 2^-p under the EXACT threshold (bottom, hundreds of decades).
load 'plots/common.gp'
set key noenhanced
f = datadir.'/precision.csv'
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('precision', fmt)
  set multiplot layout 2,1 title 'Error against BPTT as the precision grows (examples/alif_recurrent.json)'
  set lmargin 12
  set rmargin 34
  set key outside right top
  set ylabel 'log10 relative error vs BPTT'
  unset xlabel
  set yrange [-3:0.5]
  set title 'approximate rules: the gap does not depend on the precision (solid: hidden layer, dashed: whole gradient)'
  rs = 'ostl:traces=diagonal eprop tbptt:window=10 fptt:chunks=4'
  plot for [i=1:4] f u (strcol(1) eq word(rs, i) ? $2 : 1/0):5 w lp pt 7 ps 0.6 lc rgb rc(word(rs, i)) t word(rs, i), \
       for [i=1:4] f u (strcol(1) eq word(rs, i) ? $2 : 1/0):3 w l dt 2 lc rgb rc(word(rs, i)) notitle
  set yrange [*:5]
  set xlabel 'precision p (bits)'
  set title 'exact rules, hidden layer: rounding only, falling as 2^-p (RTRL lies under OSTL)'
  plot for [r in '"rtrl" "ostl"'] f u (strcol(1) eq r ? $2 : 1/0):5 w lp pt 7 ps 0.6 lc rgb rc(r) t r, \
       f u (strcol(1) eq 'rtrl' ? $2 : 1/0):((14.0 - $2) * log10(2.0)) w l dt 2 lc rgb 'black' t 'EXACT threshold 2^(14-p)'
  unset multiplot
  unset output
}
