# Figure 3: e-prop against BPTT as the recurrent weights grow from zero.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/eprop_gap.csv'
set xlabel 'rec\_scale: recurrent weights drawn as rec\_scale N(0,1) / sqrt(n)'
set logscale y
set format y '1e%L'
set ylabel '||g_eprop - g_BPTT|| / ||g_BPTT||,  1 - cosine'
set title 'e-prop against BPTT on one recurrent ALIF layer (reset detached): the gap is the recurrence'
set key bottom right
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('eprop_gap', fmt)
  plot f u 1:($2 < -300 ? 1e-17 : 10**$2) every ::1 w lp pt 7 lw 2 lc rgb rc('eprop') t 'relative error, whole gradient', \
       f u 1:($4 < -300 ? 1e-17 : 10**$4) every ::1 w lp pt 9 lc rgb '#e377c2' t 'relative error, hidden w_in', \
       f u 1:($5 < -300 ? 1e-17 : 10**$5) every ::1 w lp pt 11 lc rgb '#9467bd' t 'relative error, hidden w_rec', \
       f u 1:(1 - $3 < 1e-17 ? 1e-17 : 1 - $3) every ::1 w lp pt 5 lc rgb '#7f7f7f' t '1 - cosine, whole gradient'
  unset output
}
