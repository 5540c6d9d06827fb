# Figure 7: co-learning adaptation and delays (Deckers et al. 2024): accuracy
# over the seeds, and the learned parameters' distributions before and after.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/colearn.csv'
fd = datadir.'/colearn_dist.csv'
vs = 'lif adlif_fixed adlif adlif_delays'
cs = '#7f7f7f #2ca02c #1f77b4 #d62728'
label(i) = i == 1 ? 'LIF, weights' : i == 2 ? 'adLIF, weights (adaptation fixed)' : i == 3 ? 'adLIF, + adaptation' : 'adLIF, + adaptation + delays'
stats f u 7 every ::1 nooutput
ns = int(STATS_max)
bin(x, w) = w * floor(x / w) + w / 2.0
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('colearn', fmt)
  set multiplot layout 2,2 title sprintf('Store-recall (T = 24), two feed-forward layers, BPTT: mean of %d seeds, band = one standard deviation', ns)
  set origin 0, 0
  set size 0.5, 0.95
  set xlabel 'update'
  set ylabel 'eval accuracy'
  set yrange [0.4:1.02]
  set key bottom right
  set title 'what co-learning adds'
  plot for [i=1:4] f u (strcol(1) eq word(vs, i) ? $2 : 1/0):($5 - $6):($5 + $6) w filledcurves lc rgb word(cs, i) notitle, \
       for [i=1:4] f u (strcol(1) eq word(vs, i) ? $2 : 1/0):5 w l lw 2 lc rgb word(cs, i) t label(i), \
       0.5 w l dt 2 lc rgb 'black' t 'chance (0.5)'
  unset yrange
  set style fill transparent solid 0.45 noborder
  set ylabel 'count (all seeds)'
  set key top right
  set origin 0.5, 0.475
  set size 0.5, 0.475
  set title 'layer 0: how far each delay moved (init U[0, 20] steps)'
  set xlabel 'delay after - delay before (steps)'
  set boxwidth 0.1
  plot fd u (strcol(1) eq 'layer0.delay' && strcol(2) eq 'change' ? bin($3, 0.1) : 1/0):(1) smooth freq w boxes lc rgb '#d62728' t 'after training'
  set origin 0.5, 0
  set title 'a and b after training (before: a = 0.5, b = 1)'
  set xlabel 'value'
  set boxwidth 0.05
  plot fd u (strstrt(strcol(1), '.a') > 0 && strcol(2) eq 'after' ? bin($3, 0.05) : 1/0):(1) smooth freq w boxes lc rgb '#1f77b4' t 'a', \
       fd u (strstrt(strcol(1), '.b') > 0 && strcol(2) eq 'after' ? bin($3, 0.05) : 1/0):(1) smooth freq w boxes lc rgb '#d62728' t 'b'
  unset multiplot
  unset output
}
