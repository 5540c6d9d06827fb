# Figure 9: e-prop's comparison on evidence accumulation (Bellec et al. 2020,
# Fig. 3): BPTT and e-prop with symmetric, random and adaptive feedback.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/feedback.csv'
rs = 'bptt eprop eprop:feedback=random eprop:feedback=adaptive'
stats f u 7 every ::1 nooutput
ns = int(STATS_max)
set xlabel 'update (batch 16)'
set ylabel 'eval accuracy (200 held-out trials)'
set title sprintf('Evidence accumulation, 40 recurrent ALIF neurons: mean of %d seeds, band = one standard deviation', ns)
set key bottom right
set yrange [0.3:1.02]
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('feedback', fmt)
  plot for [i=1:4] f u (strcol(1) eq word(rs, i) ? $2 : 1/0):($5 - $6):($5 + $6) w filledcurves lc rgb rc(word(rs, i)) notitle, \
       for [i=1:4] f u (strcol(1) eq word(rs, i) ? $2 : 1/0):5 w lp pt 7 ps 0.5 lw 2 lc rgb rc(word(rs, i)) t word(rs, i), \
       0.5 w l dt 2 lc rgb 'black' t 'chance (0.5)'
  unset output
}
