# Figure 3: e-prop against BPTT as the recurrent weights grow from zero.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/eprop_gap.csv'
set xlabel 'rec\_scale: recurrent weights drawn as rec\_scale N(0,1) / sqrt(n)'
set logscale y
set format y '10^{%L}'
set ylabel 'relative error, 1 - cosine'
set title 'e-prop against BPTT on one recurrent ALIF layer (reset detached): the gap is the recurrence'
set key bottom right
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('eprop_gap', fmt)
  plot f u 1:($2 < -300 ? 1e-17 : 10**$2) every ::1 w lp pt 7 t '||g_{e-prop} - g_{BPTT}|| / ||g_{BPTT}||', \
       f u 1:(1 - $3 < 1e-17 ? 1e-17 : 1 - $3) every ::1 w lp pt 5 t '1 - cosine'
  unset output
}
